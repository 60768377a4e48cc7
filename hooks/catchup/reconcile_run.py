"""One sweep's share per scope: its budget, its report, and what it reads once, not per item."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from hooks.rules.reader import IssueInfo, MilestoneInfo, Reader, StatusInfo
from hooks.service.metrics import Metrics


@dataclass
class ScopeReport:
    """What one sweep did for one watched scope."""

    scope: str
    applied: int = 0
    skipped: int = 0
    not_reconcilable: int = 0
    failed: int = 0
    finished: bool = True  # False: the budget ran out or a failure stopped it; resumes later
    cursor: str | None = None
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Budget:
    left: int


@dataclass
class ScopeRun:
    """One scope's share of a sweep: what it reads once and what it reports."""

    scope: str
    kind: str
    seen: dict[str, datetime]  # per subject, the latest updated_at in stored deliveries
    budget: Budget
    report: ScopeReport
    origin: datetime  # the start of the catch-up: changes before it were answered already
    cache: dict[tuple[str, str], Any] = field(default_factory=dict)

    def last_seen(self, subject: str, reconciled: dict[str, datetime]) -> datetime | None:
        """The latest state of the subject a delivery or a reconciliation covered."""
        return max(
            (t for t in (self.seen.get(subject), reconciled.get(subject)) if t), default=None
        )

    def spend(self) -> bool:
        """Take one item from the budget; False (and unfinished) when none is left."""
        if self.budget.left <= 0:
            self.report.finished = False
            return False
        self.budget.left -= 1
        return True

    def skipped(self, metrics: Metrics) -> None:
        self.report.skipped += 1
        metrics.reconcile_items.labels("skipped").inc()


class RetryLater(Exception):
    """GitLab was briefly unavailable for this item: stop here, the cursor stays before it."""


class SweepReader:
    """The plan's reader, with milestones and iterations read once per sweep, not per item."""

    def __init__(self, inner: Reader, cache: dict[tuple[str, str], Any]) -> None:
        self.inner = inner
        self.cache = cache

    def _once(
        self, what: str, project: str, read: Callable[[str], list[MilestoneInfo]]
    ) -> list[MilestoneInfo]:
        key = (what, project)
        if key not in self.cache:
            self.cache[key] = read(project)
        found: list[MilestoneInfo] = self.cache[key]
        return found

    def milestones(self, project: str) -> list[MilestoneInfo]:
        return self._once("milestones", project, self.inner.milestones)

    def group_milestones(self, group: str) -> list[MilestoneInfo]:
        return self._once("group_milestones", group, self.inner.group_milestones)

    def iterations(self, project: str) -> list[MilestoneInfo]:
        return self._once("iterations", project, self.inner.iterations)

    def milestone_issues(
        self, project: str, milestone: MilestoneInfo, state: str = "opened"
    ) -> list[IssueInfo]:
        return self.inner.milestone_issues(project, milestone, state)

    def issue(self, project: str, iid: int) -> IssueInfo:
        return self.inner.issue(project, iid)

    def issues(self, project: str, query: dict[str, Any]) -> list[IssueInfo]:
        return self.inner.issues(project, query)

    def member_access(self, project: str, user_id: int) -> int | None:
        return self.inner.member_access(project, user_id)

    def children(self, item: IssueInfo) -> list[IssueInfo]:
        return self.inner.children(item)

    def statuses(self, project: str) -> list[StatusInfo]:
        return self.inner.statuses(project)

    def status(self, project: str, iid: int) -> StatusInfo | None:
        return self.inner.status(project, iid)
