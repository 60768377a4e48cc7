"""The watchdog and the reconciliation sweep on intervals in `hooks serve`, once per slot.

Every replica runs the same periodic loops (hooks.periodic); each run claims its slot
(`@watchdog` or `@reconcile` at the interval's start time) in the schedule run ledger, so
exactly one replica does it.
A hook the watchdog re-enabled is followed by a sweep at once.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import structlog

from hooks.catchup.reconcile import Reconciler
from hooks.catchup.resend import Resender
from hooks.catchup.watchdog import Watchdog, WorkingHours, parse_watched
from hooks.periodic import Periodic
from hooks.service.config import Settings
from hooks.service.metrics import Metrics
from hooks.storage.runs import RunLedger
from hooks.storage.store import Store
from hooks.storage.watch import WatchStore

log = structlog.get_logger("hooks.watch_jobs")

WATCHDOG = "@watchdog"
RECONCILE = "@reconcile"
STARTUP_DELAY_S = 10.0


class WatchJobs:
    """Claims and runs the watchdog and the sweep; `run()` is the one-slot entry point."""

    def __init__(
        self,
        store: Store,
        *,
        watchdog: Watchdog,
        reconciler: Reconciler,
        owner: str,
        now: Callable[[], datetime],
        watchdog_interval_s: float,
        reconcile_interval_s: float,
        configured: list[tuple[str, int]] | None = None,
    ) -> None:
        self.store = store
        self.ledger = RunLedger(store)
        self.watchdog = watchdog
        self.reconciler = reconciler
        self.owner = owner
        self.now = now
        self.intervals = {WATCHDOG: watchdog_interval_s, RECONCILE: reconcile_interval_s}
        self.configured = configured or []
        self._periodic = Periodic(now)

    async def run(self, job: str, slot: datetime) -> str | None:
        """Claim (job, slot) and run it; None when another replica has it."""
        interval = self.intervals[job] or 60.0
        lease = timedelta(seconds=max(interval, 600.0))
        if not await self.ledger.claim(job, slot, owner=self.owner, lease=lease, now=self.now()):
            return None
        try:
            outcome = await self._do(job)
        except Exception as exc:
            log.warning("watch job failed", job=job, error=f"{type(exc).__name__}: {exc}")
            await self.ledger.finish(
                job, slot, status="failed", now=self.now(), error=str(exc)[:2000], owner=self.owner
            )
            return "failed"
        await self.ledger.finish(job, slot, status=outcome, now=self.now(), owner=self.owner)
        return outcome

    async def _do(self, job: str) -> str:
        if job == WATCHDOG:
            started = self.now()
            hooks = await self.watchdog.check()
            if any(h.reenabled_at is not None and h.reenabled_at >= started for h in hooks):
                # Catch up on what was dropped now, not at the next sweep.
                await self.run(RECONCILE, self.now().replace(microsecond=0))
            return "done"
        # What GitLab can send again is resent first: the sweep then finds it covered.
        await self.watchdog.resend_failed()
        reports = await self.reconciler.sweep()
        return "done" if all(not r.errors for r in reports) else "partial"

    async def record_configured(self) -> None:
        """Watch the hooks HOOKS_WATCHED_HOOKS names (besides those install-webhook recorded)."""
        watch = WatchStore(self.store)
        for scope, hook_id in self.configured:
            await watch.record_hook(scope, hook_id, self.now(), kind=None, url=None)

    async def start(self) -> None:
        """Record the configured hooks, then run each enabled job once per interval."""
        await self.record_configured()
        for job, interval in self.intervals.items():
            if interval > 0:
                # Not in the first seconds: the worker catches up on the inbox at start first.
                self._periodic.every(
                    job,
                    interval,
                    functools.partial(self.run, job),
                    first_after_s=min(interval, STARTUP_DELAY_S),
                )

    async def stop(self) -> None:
        await self._periodic.stop()


def build(
    settings: Settings,
    store: Store,
    metrics: Metrics,
    runtime: Any,
    now: Callable[[], datetime],
) -> WatchJobs | None:
    """The jobs of one process (None in dry-run without a token: nothing to read with)."""
    gateway = runtime.gateway
    if gateway is None:
        return None
    reconciler = Reconciler(
        rules=lambda: runtime.rules.rules,
        dispatcher=runtime.dispatcher,
        store=store,
        metrics=metrics,
        bot=lambda: runtime.bot,
        now=now,
        require_bot=settings.ignore_own_events,
        max_items=settings.reconcile_max_items,
        lookback=timedelta(seconds=settings.reconcile_lookback_s),
    )
    watchdog = Watchdog(
        store=store,
        gateway=gateway,
        metrics=metrics,
        now=now,
        reenable=settings.watchdog_reenable,
        test_trigger=settings.watchdog_test_trigger,
        silence_after=timedelta(seconds=settings.silence_after_s)
        if settings.silence_after_s > 0
        else None,
        working_hours=WorkingHours.parse(settings.working_hours, settings.timezone),
        max_retries=settings.gitlab_max_retries,
        resender=Resender(
            store,
            gateway,
            metrics,
            now=now,
            per_minute=settings.resend_per_minute,
            max_attempts=settings.resend_max_attempts,
        ),
    )
    return WatchJobs(
        store,
        watchdog=watchdog,
        reconciler=reconciler,
        owner=runtime.executor.owner,
        now=now,
        watchdog_interval_s=settings.watchdog_interval_s,
        reconcile_interval_s=settings.reconcile_interval_s,
        configured=parse_watched(settings.watched_hooks),
    )
