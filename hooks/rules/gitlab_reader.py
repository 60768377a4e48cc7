"""The engine's reader over the GitLab API (used in a gateway thread)."""

from __future__ import annotations

from typing import Any

from hooks.gitlab_ops import GitlabOps
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
        query = {"milestone": milestone.title, "state": state}
        if milestone.group:
            found = self.ops.group_issues(milestone.group, **query)
        else:
            found = self.ops.issues(project, **query)
        return [IssueInfo.from_rest(i) for i in found]

    def issue(self, project: str, iid: int) -> IssueInfo:
        return IssueInfo.from_rest(self.ops.issue(project, iid), project)

    def issues(self, project: str, query: dict[str, Any]) -> list[IssueInfo]:
        cleaned = {k: v for k, v in query.items() if v not in (None, "")}
        return [IssueInfo.from_rest(i, project) for i in self.ops.issues(project, **cleaned)]

    def iterations(self, project: str) -> list[MilestoneInfo]:
        found = self.ops.project_iterations(project)
        return [MilestoneInfo.from_rest(i) for i in found]
