"""The one way periodic jobs run in `hooks serve`: every N seconds, on slots aligned on the epoch.

Each replica runs the same loops; a slot is the same instant on every replica, so a job that
must run once per slot claims (job, slot) in the schedule run ledger (the watchdog and the
reconciliation sweep); one that is safe to run on every replica ignores it (the scheduler's
retry pass, whose every run claims its own). Schedule rules (cron, weekly, monthly...) are
calendar times, not intervals: APScheduler fires those (hooks.scheduler).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import structlog

log = structlog.get_logger("hooks.periodic")

Job = Callable[[datetime], Awaitable[object]]


def slot_of(moment: datetime, interval_s: float) -> datetime:
    """The start of the interval `moment` falls in (aligned on the epoch, same on replicas)."""
    seconds = moment.timestamp()
    return datetime.fromtimestamp(seconds - seconds % interval_s, UTC)


class Periodic:
    """Loops running jobs once per slot until `stop()`; a failing run does not stop its loop."""

    def __init__(self, now: Callable[[], datetime]) -> None:
        self.now = now
        self._tasks: list[asyncio.Task[None]] = []

    def every(self, name: str, interval_s: float, job: Job, *, first_after_s: float) -> None:
        """Run `job(slot)` first after `first_after_s`, then at the start of each next slot."""
        self._tasks.append(
            asyncio.create_task(self._loop(name, interval_s, job, first_after_s), name=name)
        )

    async def _loop(self, name: str, interval_s: float, job: Job, first_after_s: float) -> None:
        await asyncio.sleep(first_after_s)
        while True:
            slot = slot_of(self.now(), interval_s)
            try:
                await job(slot)
            except Exception as exc:
                log.warning("periodic job failed", job=name, error=f"{type(exc).__name__}: {exc}")
            wait = slot.timestamp() + interval_s - self.now().timestamp()
            await asyncio.sleep(max(wait, 1.0))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
