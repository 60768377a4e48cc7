"""What the engine may read from GitLab, through a small synchronous interface."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field


class ReaderError(Exception):
    """A read the plan needed failed; the rule that needed it records this as its error."""


class MilestoneInfo(BaseModel):
    """A project or group milestone, as the engine needs it."""

    model_config = ConfigDict(frozen=True)

    id: int
    iid: int | None = None
    title: str
    state: str = "active"
    start_date: date | None = None
    due_date: date | None = None
    group: str | None = None
    project: str | None = None
    web_url: str | None = None

    @classmethod
    def from_rest(cls, data: dict[str, Any]) -> MilestoneInfo:
        """From GitLab's REST shape (GET /projects/:id/milestones)."""
        group_path = None
        web_url = data.get("web_url") or ""
        if data.get("group_id") is not None and "/groups/" in web_url:
            group_path = web_url.split("/groups/", 1)[1].split("/-/", 1)[0]
        elif data.get("group_id") is not None:
            group_path = str(data["group_id"])
        return cls(
            id=data["id"],
            iid=data.get("iid"),
            title=data.get("title") or "",
            state=data.get("state") or "active",
            start_date=data.get("start_date"),
            due_date=data.get("due_date"),
            group=group_path,
            web_url=data.get("web_url"),
        )


class IssueInfo(BaseModel):
    """An issue's current state, as the engine needs it."""

    id: int | None = None
    iid: int
    project_path: str
    title: str = ""
    description: str = ""
    state: str = "opened"
    labels: list[str] = Field(default_factory=list)
    milestone: MilestoneInfo | None = None
    assignees: list[str] = Field(default_factory=list)
    author: str | None = None
    due_date: date | None = None
    updated_at: datetime | None = None
    confidential: bool = False
    web_url: str | None = None
    health_status: str | None = None
    iteration_id: int | None = None
    iteration_title: str | None = None

    @property
    def subject(self) -> str:
        return f"{self.project_path}#{self.iid}"

    @classmethod
    def from_rest(cls, data: dict[str, Any], project_path: str | None = None) -> IssueInfo:
        """From GitLab's REST shape (GET /projects/:id/issues/:iid)."""
        full = (data.get("references") or {}).get("full") or ""
        path = full.rsplit("#", 1)[0] if "#" in full else project_path
        if not path:
            web_url = data.get("web_url") or ""
            path = web_url.split("://", 1)[-1].split("/", 1)[-1].split("/-/", 1)[0]
        milestone = data.get("milestone")
        iteration = data.get("iteration") or {}
        return cls(
            id=data.get("id"),
            iid=data["iid"],
            project_path=path,
            title=data.get("title") or "",
            description=data.get("description") or "",
            state=data.get("state") or "opened",
            labels=list(data.get("labels") or []),
            milestone=MilestoneInfo.from_rest(milestone) if milestone else None,
            assignees=[a["username"] for a in data.get("assignees") or [] if "username" in a],
            author=(data.get("author") or {}).get("username"),
            due_date=data.get("due_date"),
            updated_at=data.get("updated_at"),
            confidential=bool(data.get("confidential")),
            web_url=data.get("web_url"),
            health_status=data.get("health_status"),
            iteration_id=iteration.get("id"),
            iteration_title=iteration.get("title"),
        )


class Reader(Protocol):
    """GitLab reads a plan may need; implementations raise ReaderError when they cannot."""

    def milestones(self, project: str) -> list[MilestoneInfo]: ...

    def group_milestones(self, group: str) -> list[MilestoneInfo]: ...

    def milestone_issues(
        self, project: str, milestone: MilestoneInfo, state: str = "opened"
    ) -> list[IssueInfo]: ...

    def issue(self, project: str, iid: int) -> IssueInfo: ...

    def issues(self, project: str, query: dict[str, Any]) -> list[IssueInfo]: ...

    def iterations(self, project: str) -> list[MilestoneInfo]: ...


class StaticReader:
    """An in-memory reader for tests, rule examples and `hooks plan` without a token."""

    def __init__(
        self,
        milestones: list[MilestoneInfo] | None = None,
        issues: list[IssueInfo] | None = None,
        iterations: list[MilestoneInfo] | None = None,
        *,
        offline: bool = False,
    ) -> None:
        self._milestones = milestones or []
        self._issues = issues or []
        self._iterations = iterations or []
        self._offline = offline

    def _need(self, what: str) -> None:
        if self._offline:
            raise ReaderError(f"cannot read {what}: no GitLab token (set HOOKS_GITLAB_TOKEN)")

    def milestones(self, project: str) -> list[MilestoneInfo]:
        self._need(f"the milestones of {project}")
        return list(self._milestones)

    def group_milestones(self, group: str) -> list[MilestoneInfo]:
        self._need(f"the milestones of group {group}")
        return list(self._milestones)

    def milestone_issues(
        self, project: str, milestone: MilestoneInfo, state: str = "opened"
    ) -> list[IssueInfo]:
        self._need(f"the issues of milestone {milestone.title!r}")
        return [
            i
            for i in self._issues
            if i.milestone is not None
            and i.milestone.id == milestone.id
            and (state == "all" or i.state == state)
        ]

    def issue(self, project: str, iid: int) -> IssueInfo:
        self._need(f"issue {project}#{iid}")
        for found in self._issues:
            if found.project_path == project and found.iid == iid:
                return found
        raise ReaderError(f"cannot read issue {project}#{iid}: not found")

    def issues(self, project: str, query: dict[str, Any]) -> list[IssueInfo]:
        self._need(f"the issues of {project}")
        state = query.get("state", "opened")
        labels = [x for x in str(query.get("labels", "")).split(",") if x]
        return [
            i
            for i in self._issues
            if i.project_path == project
            and (state == "all" or i.state == state)
            and all(label in i.labels for label in labels)
        ]

    def iterations(self, project: str) -> list[MilestoneInfo]:
        self._need(f"the iterations of {project}")
        return list(self._iterations)
