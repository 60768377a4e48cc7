"""What the engine may read from GitLab, through a small synchronous interface."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field


class ReaderError(Exception):
    """A read the plan needed failed; the rule that needed it records this as its error."""


class MilestoneInfo(BaseModel):
    """A project or group milestone, as the engine needs it.

    Titles are unique only within one project or group: every team of a large group may
    have its own "Sprint 42". A milestone is therefore known by its id and its owner
    (`group_id` or `project_id`), never by its title alone.
    """

    model_config = ConfigDict(frozen=True)

    id: int
    iid: int | None = None
    title: str
    state: str = "active"
    start_date: date | None = None
    due_date: date | None = None
    group: str | None = None
    project: str | None = None
    group_id: int | None = None
    project_id: int | None = None
    web_url: str | None = None
    cadence_id: int | None = None  # an iteration's cadence: a team's own sequence of sprints
    cadence: str | None = None

    @property
    def owner(self) -> tuple[str, int] | None:
        """("group", id) or ("project", id), when known; an iteration's is its cadence."""
        if self.cadence_id is not None:
            return ("cadence", self.cadence_id)
        if self.group_id is not None:
            return ("group", self.group_id)
        if self.project_id is not None:
            return ("project", self.project_id)
        return None

    def same_owner(self, other: MilestoneInfo) -> bool:
        """Whether both belong to one group or project (true when either owner is unknown)."""
        return self.owner is None or other.owner is None or self.owner == other.owner

    @classmethod
    def from_rest(cls, data: dict[str, Any]) -> MilestoneInfo:
        """From GitLab's REST shape (GET /projects/:id/milestones, /groups/:id/milestones)."""
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
            group_id=data.get("group_id"),
            project_id=data.get("project_id"),
            web_url=data.get("web_url"),
        )


def by_title(milestones: list[MilestoneInfo], title: str) -> MilestoneInfo | None:
    """The milestone a project means by a title: its own first, then the nearest group's.

    A project sees its own milestones and those of every ancestor group, and more than one
    of them may carry the title; the closest owner wins, as in GitLab's own `%"title"`.
    """
    found = [m for m in milestones if m.title == title]
    if not found:
        return None

    def closeness(m: MilestoneInfo) -> tuple[int, int]:
        if m.project_id is not None or m.group_id is None:
            return (0, 0)
        return (1, -len((m.group or "").split("/")))

    return min(found, key=closeness)


def current_milestone(milestones: Sequence[MilestoneInfo], today: date) -> MilestoneInfo | None:
    """The active milestone whose dates contain today (the earliest due if several)."""
    running = [
        m
        for m in milestones
        if m.state == "active"
        and m.start_date is not None
        and m.due_date is not None
        and m.start_date <= today <= m.due_date
    ]
    return min(running, key=lambda m: (m.due_date, m.id)) if running else None


def next_milestone(
    milestones: Sequence[MilestoneInfo], after: MilestoneInfo | None, today: date
) -> MilestoneInfo | None:
    """The active milestone that starts next after `after` (or after today).

    After a given milestone, only one of the same owner counts: a team's next sprint is in
    the group or project its last one was in, not a same-dated sprint of another team.
    """
    pivot = after.start_date if after is not None and after.start_date else today
    later = [
        m
        for m in milestones
        if m.state == "active"
        and m.start_date is not None
        and m.start_date > pivot
        and (after is None or (m.id != after.id and m.same_owner(after)))
    ]
    return min(later, key=lambda m: (m.start_date, m.id)) if later else None


CLOSING_CATEGORIES = ("done", "canceled")
# GitLab's five system-defined statuses (WorkItems::Statuses::SystemDefined::Status): what a
# namespace without custom statuses allows.
DEFAULT_STATUSES = (
    ("To do", "to_do"),
    ("In progress", "in_progress"),
    ("Done", "done"),
    ("Won't do", "canceled"),
    ("Duplicate", "canceled"),
)
SYSTEM_STATUS_GID = "gid://gitlab/WorkItems::Statuses::SystemDefined::Status/"


class StatusInfo(BaseModel):
    """A work item status (GitLab 18.2+, Premium): global id, name, category.

    Categories: triage, to_do, in_progress, done, canceled; done and canceled close the item.
    """

    model_config = ConfigDict(frozen=True)

    id: str | None = None
    name: str
    category: str | None = None
    color: str | None = None

    @property
    def closes(self) -> bool:
        return self.category in CLOSING_CATEGORIES

    def named(self, name: str) -> bool:
        """GitLab matches status names case-insensitively."""
        return self.name.casefold() == name.strip().casefold()

    @classmethod
    def from_graphql(cls, data: dict[str, Any]) -> StatusInfo:
        """From a `WorkItemStatus` object (category `CANCELLED` is the pre-18.2 spelling)."""
        category = str(data.get("category") or "").lower().replace("cancelled", "canceled")
        return cls(
            id=data.get("id"),
            name=str(data.get("name") or ""),
            category=category or None,
            color=data.get("color"),
        )


def default_statuses() -> list[StatusInfo]:
    return [
        StatusInfo(id=f"{SYSTEM_STATUS_GID}{i}", name=name, category=category)
        for i, (name, category) in enumerate(DEFAULT_STATUSES, start=1)
    ]


def find_status(statuses: Sequence[StatusInfo], name: str) -> StatusInfo | None:
    return next((s for s in statuses if s.named(name)), None)


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
    type: str = "issue"  # issue, task, incident: GitLab's work item type, lower case
    parent: str | None = None  # a child task's parent item, `path#iid`, where known

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
            type=str(data.get("issue_type") or "issue"),
        )


class Reader(Protocol):
    """GitLab reads a plan may need; implementations raise ReaderError when they cannot."""

    def milestones(self, project: str) -> list[MilestoneInfo]: ...

    def group_milestones(self, group: str) -> list[MilestoneInfo]: ...

    def milestone_issues(
        self, project: str, milestone: MilestoneInfo, state: str = "opened"
    ) -> list[IssueInfo]:
        """The issues in exactly this milestone (by id): every project's, for a group's."""
        ...

    def issue(self, project: str, iid: int) -> IssueInfo: ...

    def issues(self, project: str, query: dict[str, Any]) -> list[IssueInfo]: ...

    def iterations(self, project: str) -> list[MilestoneInfo]:
        """The iterations `project` sees (its groups'), each with its cadence."""
        ...

    def children(self, item: IssueInfo) -> list[IssueInfo]:
        """An item's child work items (tasks), in any state."""
        ...

    def member_access(self, project: str, user_id: int) -> int | None:
        """The user's access level in the project, direct or inherited; None: not a member."""
        ...

    def statuses(self, project: str) -> list[StatusInfo]:
        """The work item statuses the project's top-level namespace allows ([]: none, as on
        GitLab Free or before 18.2)."""
        ...

    def status(self, project: str, iid: int) -> StatusInfo | None:
        """The work item's status (None where GitLab has no status widget)."""
        ...


class StaticReader:
    """An in-memory reader for tests, rule examples and `hooks plan` without a token."""

    def __init__(
        self,
        milestones: list[MilestoneInfo] | None = None,
        issues: list[IssueInfo] | None = None,
        iterations: list[MilestoneInfo] | None = None,
        *,
        members: dict[int, int] | None = None,
        offline: bool = False,
        statuses: list[StatusInfo] | None = None,
        subject_statuses: dict[str, StatusInfo] | None = None,
    ) -> None:
        self._members = members or {}
        self._milestones = milestones or []
        self._issues = issues or []
        self._iterations = iterations or []
        self._offline = offline
        # Without statuses given, GitLab's five defaults, as a namespace without custom ones.
        self._statuses = default_statuses() if statuses is None else statuses
        self._subject_statuses = subject_statuses or {}

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
        iteration = query.get("iteration_id")
        return [
            i
            for i in self._issues
            if i.project_path == project
            and (state == "all" or i.state == state)
            and all(label in i.labels for label in labels)
            and (iteration is None or str(i.iteration_id) == str(iteration))
        ]

    def iterations(self, project: str) -> list[MilestoneInfo]:
        self._need(f"the iterations of {project}")
        return list(self._iterations)

    def member_access(self, project: str, user_id: int) -> int | None:
        self._need(f"the members of {project}")
        return self._members.get(user_id)

    def children(self, item: IssueInfo) -> list[IssueInfo]:
        self._need(f"the child items of {item.subject}")
        return [i for i in self._issues if i.parent == item.subject]

    def statuses(self, project: str) -> list[StatusInfo]:
        self._need(f"the work item statuses of {project}")
        return list(self._statuses)

    def status(self, project: str, iid: int) -> StatusInfo | None:
        self._need(f"the status of {project}#{iid}")
        found = self._subject_statuses.get(f"{project}#{iid}")
        if found is not None:
            return found
        # As GitLab shows an item without a status of its own: its lifecycle's default.
        issue = next((i for i in self._issues if i.project_path == project and i.iid == iid), None)
        closed = issue is not None and issue.state == "closed"
        wanted = CLOSING_CATEGORIES if closed else ("triage", "to_do", "in_progress")
        return next((s for c in wanted for s in self._statuses if s.category == c), None)
