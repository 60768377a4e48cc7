"""One sweep's share per scope: its budget, its report, and what it reads once, not per item."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from hooks.rules.reader import Reader
from hooks.rules.reads import Read, ReaderWrapper
from hooks.service.metrics import Metrics

T = TypeVar("T")


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


class SweepReader(ReaderWrapper):
    """The plan's reader, with milestones and iterations read once per sweep, not per item."""

    ONCE_PER_SWEEP = ("milestones", "group_milestones", "iterations")

    def __init__(self, inner: Reader, cache: dict[tuple[Any, ...], Any]) -> None:
        super().__init__(inner)
        self.cache = cache

    def read(self, read: Read[T]) -> T:
        if read.key[0] not in self.ONCE_PER_SWEEP:
            return super().read(read)
        if read.key not in self.cache:
            self.cache[read.key] = super().read(read)
        found: T = self.cache[read.key]
        return found
