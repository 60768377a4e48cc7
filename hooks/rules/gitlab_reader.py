"""The engine's reader over the GitLab API (used in a gateway thread)."""

from __future__ import annotations

from typing import Any

from hooks.gitlab.ops import GitlabOps
from hooks.rules.reader import IssueInfo, MilestoneInfo


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
        found = self.ops.project_iterations(project)
        return [MilestoneInfo.from_rest(i) for i in found]
