"""Every read of the `Reader` protocol, in one place, for readers that wrap another.

Several stages wrap the engine's reader: the processor guards each read (a transient GitLab
failure retries the delivery) and remembers the issues it saw, a reconciliation sweep reads
milestones once per sweep, a preview keeps every answer and runs reads on the service's loop
or restores what the bot itself moved. Each of those decides what *a* read does by
overriding `read()`; the methods below are the only list of reads, so a new read of the
protocol is added here once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from hooks.rules.reader import IssueInfo, MilestoneInfo, Reader, StatusInfo

T = TypeVar("T")


@dataclass(frozen=True)
class Read(Generic[T]):
    """One read: its key (caches), what it reads (reports, errors), and how to do it."""

    key: tuple[Any, ...]
    what: str
    run: Callable[[Reader], T]


class ReaderWrapper:
    """A `Reader` passing each read through `read()`; by default the inner reader answers."""

    def __init__(self, inner: Reader | None = None) -> None:
        self.inner = inner

    def read(self, read: Read[T]) -> T:
        assert self.inner is not None, f"{type(self).__name__} has no reader to ask"
        return read.run(self.inner)

    def milestones(self, project: str) -> list[MilestoneInfo]:
        return self.read(
            Read(
                ("milestones", project), f"milestones of {project}", lambda r: r.milestones(project)
            )
        )

    def group_milestones(self, group: str) -> list[MilestoneInfo]:
        return self.read(
            Read(
                ("group_milestones", group),
                f"milestones of group {group}",
                lambda r: r.group_milestones(group),
            )
        )

    def milestone_issues(
        self, project: str, milestone: MilestoneInfo, state: str = "opened"
    ) -> list[IssueInfo]:
        return self.read(
            Read(
                ("milestone_issues", project, milestone.id, state),
                f"{state} issues of milestone {milestone.title!r} (id {milestone.id})",
                lambda r: r.milestone_issues(project, milestone, state),
            )
        )

    def issue(self, project: str, iid: int) -> IssueInfo:
        return self.read(
            Read(("issue", project, iid), f"issue {project}#{iid}", lambda r: r.issue(project, iid))
        )

    def issues(self, project: str, query: dict[str, Any]) -> list[IssueInfo]:
        shown = ", ".join(f"{k}={v}" for k, v in sorted(query.items()) if v not in (None, ""))
        return self.read(
            Read(
                ("issues", project, tuple(sorted((k, str(v)) for k, v in query.items()))),
                f"issues of {project} ({shown})",
                lambda r: r.issues(project, query),
            )
        )

    def iterations(self, project: str) -> list[MilestoneInfo]:
        return self.read(
            Read(
                ("iterations", project), f"iterations of {project}", lambda r: r.iterations(project)
            )
        )

    def children(self, item: IssueInfo) -> list[IssueInfo]:
        return self.read(
            Read(
                ("children", item.subject),
                f"child items of {item.subject}",
                lambda r: r.children(item),
            )
        )

    def member_access(self, project: str, user_id: int) -> int | None:
        return self.read(
            Read(
                ("member", project, user_id),
                f"access level of user {user_id} in {project}",
                lambda r: r.member_access(project, user_id),
            )
        )

    def statuses(self, project: str) -> list[StatusInfo]:
        return self.read(
            Read(
                ("statuses", project),
                f"work item statuses of {project}",
                lambda r: r.statuses(project),
            )
        )

    def status(self, project: str, iid: int) -> StatusInfo | None:
        return self.read(
            Read(
                ("status", project, iid),
                f"status of {project}#{iid}",
                lambda r: r.status(project, iid),
            )
        )
