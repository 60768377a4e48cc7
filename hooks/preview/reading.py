"""How a preview reads GitLab: today's state, read-only, each subject read once.

The engine reads through the `Reader` protocol, which has only reads. A preview plans the
same milestone close or sweep many times (once per recorded delivery, once per rule set),
so every answer (and every failure) is kept for the whole preview: one request per subject.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from hooks.gitlab.gateway import Gateway
from hooks.gitlab.ops import GitlabOps
from hooks.rules.gitlab_reader import GitlabReader
from hooks.rules.reader import (
    IssueInfo,
    MilestoneInfo,
    Reader,
    ReaderError,
    StaticReader,
    StatusInfo,
)
from hooks.service.config import Settings

T = TypeVar("T")


@dataclass
class ReadLog:
    """What the preview read: one entry per subject, and how often a plan asked again."""

    subjects: list[str] = field(default_factory=list)
    hits: int = 0
    failures: dict[str, str] = field(default_factory=dict)


class CachingReader:
    """A reader that asks the inner reader once per subject and remembers the answer."""

    def __init__(self, inner: Reader) -> None:
        self.inner = inner
        self.log = ReadLog()
        self._answers: dict[tuple[Any, ...], Any] = {}
        self._lock = threading.Lock()

    def _once(self, key: tuple[Any, ...], what: str, read: Callable[[], T]) -> T:
        with self._lock:
            if key in self._answers:
                self.log.hits += 1
                found = self._answers[key]
                if isinstance(found, ReaderError):
                    raise found
                return found  # type: ignore[no-any-return]
        try:
            answer: Any = read()
        except ReaderError as exc:
            answer = exc
        except Exception as exc:  # GitLab said no: the rule that needed it records why
            answer = ReaderError(f"cannot read {what}: {type(exc).__name__}: {exc}")
        with self._lock:
            self._answers[key] = answer
            self.log.subjects.append(what)
            if isinstance(answer, ReaderError):
                self.log.failures[what] = str(answer)
        if isinstance(answer, ReaderError):
            raise answer
        return answer  # type: ignore[no-any-return]

    def milestones(self, project: str) -> list[MilestoneInfo]:
        found = self._once(
            ("milestones", project),
            f"milestones of {project}",
            lambda: self.inner.milestones(project),
        )
        return list(found)

    def group_milestones(self, group: str) -> list[MilestoneInfo]:
        found = self._once(
            ("group_milestones", group),
            f"milestones of group {group}",
            lambda: self.inner.group_milestones(group),
        )
        return list(found)

    def milestone_issues(
        self, project: str, milestone: MilestoneInfo, state: str = "opened"
    ) -> list[IssueInfo]:
        found = self._once(
            ("milestone_issues", project, milestone.id, state),
            f"{state} issues of milestone {milestone.title!r} (id {milestone.id})",
            lambda: self.inner.milestone_issues(project, milestone, state),
        )
        return list(found)

    def issue(self, project: str, iid: int) -> IssueInfo:
        return self._once(
            ("issue", project, iid),
            f"issue {project}#{iid}",
            lambda: self.inner.issue(project, iid),
        )

    def issues(self, project: str, query: dict[str, Any]) -> list[IssueInfo]:
        shown = ", ".join(f"{k}={v}" for k, v in sorted(query.items()) if v not in (None, ""))
        found = self._once(
            ("issues", project, tuple(sorted((k, str(v)) for k, v in query.items()))),
            f"issues of {project} ({shown})",
            lambda: self.inner.issues(project, query),
        )
        return list(found)

    def iterations(self, project: str) -> list[MilestoneInfo]:
        found = self._once(
            ("iterations", project),
            f"iterations of {project}",
            lambda: self.inner.iterations(project),
        )
        return list(found)

    def children(self, item: IssueInfo) -> list[IssueInfo]:
        found = self._once(
            ("children", item.subject),
            f"child items of {item.subject}",
            lambda: self.inner.children(item),
        )
        return list(found)

    def statuses(self, project: str) -> list[StatusInfo]:
        found = self._once(
            ("statuses", project),
            f"work item statuses of {project}",
            lambda: self.inner.statuses(project),
        )
        return list(found)

    def status(self, project: str, iid: int) -> StatusInfo | None:
        return self._once(
            ("status", project, iid),
            f"status of {project}#{iid}",
            lambda: self.inner.status(project, iid),
        )

    def member_access(self, project: str, user_id: int) -> int | None:
        return self._once(
            ("member", project, user_id),
            f"access level of user {user_id} in {project}",
            lambda: self.inner.member_access(project, user_id),
        )


def offline_reader() -> Reader:
    """No token: rules that read GitLab are not evaluated (and the report names them)."""
    return StaticReader(offline=True)


def settings_reader(settings: Settings) -> tuple[Reader, bool]:
    """A reader over GitLab for a command (its own client), and whether it reads GitLab."""
    if settings.gitlab_token is None:
        return offline_reader(), False
    import gitlab

    gl = gitlab.Gitlab(
        settings.gitlab_url,
        private_token=settings.gitlab_token.get_secret_value(),
        timeout=settings.gitlab_timeout_s,
        retry_transient_errors=True,
        per_page=100,
    )
    return GitlabReader(GitlabOps(gl, max_retries=2)), True


def gateway_reader(gateway: Gateway | None, loop: asyncio.AbstractEventLoop) -> tuple[Reader, bool]:
    """A reader through the service's gateway (its threads and rate budget), for a preview
    planned in a worker thread; offline without a gateway (no token)."""
    if gateway is None:
        return offline_reader(), False

    async def call(read: Callable[[Reader], Any]) -> Any:
        return await gateway.call(
            lambda gl: read(GitlabReader(GitlabOps(gl, max_retries=gateway.max_retries)))
        )

    return ThreadBridgeReader(loop, call), True


class ThreadBridgeReader:
    """A reader whose reads run as coroutines on the service's loop (e.g. through its
    gateway, sharing the rate budget) while the planning runs in a worker thread."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        call: Callable[[Callable[[Reader], Any]], Any],
    ) -> None:
        self._loop = loop
        self._call = call

    def _run(self, read: Callable[[Reader], T]) -> T:
        future = asyncio.run_coroutine_threadsafe(self._call(read), self._loop)
        result: T = future.result()
        return result

    def milestones(self, project: str) -> list[MilestoneInfo]:
        return self._run(lambda r: r.milestones(project))

    def group_milestones(self, group: str) -> list[MilestoneInfo]:
        return self._run(lambda r: r.group_milestones(group))

    def milestone_issues(
        self, project: str, milestone: MilestoneInfo, state: str = "opened"
    ) -> list[IssueInfo]:
        return self._run(lambda r: r.milestone_issues(project, milestone, state))

    def issue(self, project: str, iid: int) -> IssueInfo:
        return self._run(lambda r: r.issue(project, iid))

    def issues(self, project: str, query: dict[str, Any]) -> list[IssueInfo]:
        return self._run(lambda r: r.issues(project, query))

    def iterations(self, project: str) -> list[MilestoneInfo]:
        return self._run(lambda r: r.iterations(project))

    def children(self, item: IssueInfo) -> list[IssueInfo]:
        return self._run(lambda r: r.children(item))

    def statuses(self, project: str) -> list[StatusInfo]:
        return self._run(lambda r: r.statuses(project))

    def status(self, project: str, iid: int) -> StatusInfo | None:
        return self._run(lambda r: r.status(project, iid))

    def member_access(self, project: str, user_id: int) -> int | None:
        return self._run(lambda r: r.member_access(project, user_id))
