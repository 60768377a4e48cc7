"""The scheduler: schedule rules fire on time, once, across restarts and replicas.

APScheduler 3.11 keeps the jobs in memory on every replica (its job stores must not be
shared between processes); each job only claims its (rule, fire time) in the ledger, and
the replica whose claim lands runs it. At start, runs missed while the service was down
are caught up: the latest within the rule's grace window runs once (late), older ones are
recorded as missed. Failed runs are retried with backoff, then recorded as failed; the pass
that takes up due retries is a periodic job (hooks.periodic), like the watchdog's.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import structlog
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from hooks.periodic import Periodic
from hooks.processing.worker import RetryPolicy
from hooks.schedules.triggers import RuleTrigger, Schedule, occurrences_between
from hooks.storage.runs import RunLedger

log = structlog.get_logger("hooks.scheduler")

# Runs one scheduled rule for one fire time; returns done, partial or failed; raises to retry.
RunFn = Callable[[str, datetime, bool], Awaitable[str]]
OutcomeFn = Callable[[str, str], None]


class Scheduler:
    """In-memory jobs per replica, a shared ledger deciding who runs what."""

    def __init__(
        self,
        ledger: RunLedger,
        run: RunFn,
        *,
        now: Callable[[], datetime],
        default_tz: str,
        owner: str,
        lease: timedelta = timedelta(minutes=5),
        retry: RetryPolicy | None = None,
        on_outcome: OutcomeFn | None = None,
        retry_poll_s: float = 15.0,
    ) -> None:
        self.ledger = ledger
        self.run = run
        self.now = now
        self.default_tz = default_tz
        self.owner = owner
        self.lease = lease
        self.retry = retry or RetryPolicy(max_attempts=5, base_s=30.0, cap_s=3600.0)
        self.on_outcome = on_outcome or (lambda _rule, _outcome: None)
        self.retry_poll_s = retry_poll_s
        self.rules: dict[str, Schedule] = {}
        # When each rule was first seen: a brand-new rule never fires for times before it.
        self._watched_from: dict[str, datetime] = {}
        self._aps: AsyncIOScheduler | None = None
        self._rng = random.Random()
        self._tasks: set[asyncio.Task[None]] = set()
        # The retry pass is periodic, not a calendar time: hooks.periodic runs it.
        self._periodic = Periodic(now)

    @property
    def running(self) -> bool:
        return self._aps is not None and self._aps.running

    def set_rules(self, rules: list[tuple[str, Schedule]]) -> None:
        """(Re)build the jobs from the scheduled rules."""
        self.rules = dict(rules)
        now = self.now()
        self._watched_from = {name: self._watched_from.get(name, now) for name in self.rules}
        if self._aps is not None:
            self._install_jobs()

    def _install_jobs(self) -> None:
        assert self._aps is not None
        for job in self._aps.get_jobs():
            job.remove()
        for name, schedule in self.rules.items():
            self._aps.add_job(
                self._fire_job,
                RuleTrigger(schedule, self.default_tz),
                args=[name],
                id=f"rule:{name}",
                # A late wake-up still runs; the ledger, not APScheduler, prevents doubles.
                misfire_grace_time=int(schedule.grace.total_seconds()),
                coalesce=True,
                max_instances=1,
            )

    async def start(self) -> None:
        """Catch up on missed runs, then let APScheduler fire the jobs."""
        await self.catch_up(self.now())
        self._aps = AsyncIOScheduler(timezone=self.default_tz)
        self._periodic.every(
            "hooks-retries",
            self.retry_poll_s,
            lambda _slot: self.retry_due(),
            first_after_s=self.retry_poll_s,
        )
        self._install_jobs()
        self._aps.start()
        log.info("scheduler started", rules=sorted(self.rules))

    async def stop(self) -> None:
        if self._aps is not None and self._aps.running:
            self._aps.shutdown(wait=False)
        await self._periodic.stop()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _fire_job(self, rule: str) -> None:
        # APScheduler passes no fire time; the scheduled time is the latest one due now.
        schedule = self.rules.get(rule)
        if schedule is None:
            return
        now = self.now()
        due = occurrences_between(schedule, now - schedule.grace, now, self.default_tz)
        if due:
            await self.fire(rule, due[-1])

    async def catch_up(self, now: datetime) -> None:
        """Run, late, the latest missed run within grace; record older ones as missed."""
        for rule, schedule in self.rules.items():
            since = await self.ledger.last_fire(rule)
            if since is None:
                continue  # a rule seen for the first time has nothing to catch up on
            missed = occurrences_between(schedule, since, now, self.default_tz)
            if not missed:
                continue
            latest = missed[-1]
            within = now - latest <= schedule.grace
            for old in missed[:-1] if within else missed:
                await self.ledger.record_missed(rule, old, now)
                self.on_outcome(rule, "missed")
                log.warning("scheduled run missed", rule=rule, scheduled_at=old.isoformat())
            if within:
                await self.fire(rule, latest, late=True)

    async def fire(self, rule: str, scheduled_at: datetime, *, late: bool = False) -> str | None:
        """Claim and run one (rule, time); None if another replica has it."""
        now = self.now()
        claimed = await self.ledger.claim(
            rule, scheduled_at, owner=self.owner, lease=self.lease, now=now, late=late
        )
        if not claimed:
            return None
        with structlog.contextvars.bound_contextvars(
            rule=rule, scheduled_at=scheduled_at.isoformat()
        ):
            try:
                outcome = await self.run(rule, scheduled_at, late)
            except Exception as exc:
                return await self._failed(rule, scheduled_at, f"{type(exc).__name__}: {exc}")
            if not await self.ledger.finish(
                rule, scheduled_at, status=outcome, now=self.now(), owner=self.owner
            ):
                log.warning("scheduled run finished after its claim was taken over")
                return None
            self.on_outcome(rule, "late" if late and outcome == "done" else outcome)
            log.info("scheduled run", outcome=outcome, late=late)
            return outcome

    async def _failed(self, rule: str, scheduled_at: datetime, error: str) -> str:
        run = await self.ledger.get(rule, scheduled_at)
        attempts = run.attempts if run else 1
        now = self.now()
        if attempts >= self.retry.max_attempts:
            await self.ledger.finish(
                rule, scheduled_at, status="failed", now=now, error=error, owner=self.owner
            )
            self.on_outcome(rule, "failed")
            log.error("scheduled run failed", attempts=attempts, error=error)
            return "failed"
        at = now + self.retry.delay(attempts, self._rng)
        await self.ledger.retry_later(rule, scheduled_at, self.owner, at, error)
        log.warning("scheduled run will be retried", attempts=attempts, at=at.isoformat())
        return "retry"

    async def retry_due(self) -> None:
        """Take over due retries and runs whose claimer died."""
        for rule, scheduled_at in await self.ledger.due_again(self.now()):
            if rule in self.rules:
                await self.fire(rule, scheduled_at)

    async def tick(self) -> None:
        """Fire what is due at `now()` without APScheduler's timer (tests, one-shot runs)."""
        now = self.now()
        for rule, schedule in self.rules.items():
            since = await self.ledger.last_fire(rule) or self._watched_from.get(rule, now)
            start = max(since, now - schedule.grace)
            for fire_time in occurrences_between(schedule, start, now, self.default_tz):
                await self.fire(rule, fire_time)
        await self.retry_due()
