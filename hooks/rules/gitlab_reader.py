"""The engine's reader over the GitLab API (used in a gateway thread)."""

from __future__ import annotations

from typing import Any

from hooks.gitlab import work_items
from hooks.gitlab.ops import GitlabOps
from hooks.rules.reader import IssueInfo, MilestoneInfo, iteration_info


class GitlabReader:
    """Reads milestones and issues through python-gitlab; errors propagate to the caller."""

    def __init__(self, ops: GitlabOps) -> None:
        self.ops = ops

    def milestones(self, project: str) -> list[MilestoneInfo]:
        # include_ancestors: the group's sprint milestones are the project's too.
        found = self.ops.project_milestones(project, include_ancestors="true")
        return [MilestoneInfo.from_rest(m) for m in found]

    def group_milestones(self, group: str) -> list[MilestoneInfo]:
        found = self.ops.group_milestones(group, include_ancestors="true")
        return [MilestoneInfo.from_rest(m) for m in found]

    def milestone_issues(
        self, project: str, milestone: MilestoneInfo, state: str = "opened"
    ) -> list[IssueInfo]:
        # GitLab filters issues by milestone *title* only, and another team's milestone may
        # share it: the title narrows the list, the id decides.
        query = {"milestone": milestone.title, "state": state}
        if milestone.group:  # a group sprint's items are in every project of the group
            found = self.ops.group_issues(milestone.group, **query)
        elif project or milestone.project:
            found = self.ops.issues(project or str(milestone.project), **query)
        else:
            return []
        issues = [IssueInfo.from_rest(i) for i in found]
        return [i for i in issues if i.milestone is not None and i.milestone.id == milestone.id]

    def issue(self, project: str, iid: int) -> IssueInfo:
        return IssueInfo.from_rest(self.ops.issue(project, iid), project)

    def issues(self, project: str, query: dict[str, Any]) -> list[IssueInfo]:
        cleaned = {k: v for k, v in query.items() if v not in (None, "")}
        return [IssueInfo.from_rest(i, project) for i in self.ops.issues(project, **cleaned)]

    def iterations(self, project: str) -> list[MilestoneInfo]:
        return [iteration_info(i) for i in work_items.iterations(self.ops, project)]

    def children(self, item: IssueInfo) -> list[IssueInfo]:
        found = []
        for child in work_items.children(self.ops, item.project_path, item.iid):
            path = (child.get("namespace") or {}).get("fullPath") or item.project_path
            read = IssueInfo.from_rest(self.ops.issue(path, int(child["iid"])), path)
            found.append(read.model_copy(update={"parent": item.subject}))
        return found
