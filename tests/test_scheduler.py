"""The scheduler driven by a FakeClock: what fires, when, and what the app is told."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from hooks.schedules.scheduler import Scheduler
from hooks.schedules.triggers import Schedule
from hooks.storage.runs import RunLedger
from hooks.storage.store import Store
from hooks.testing.clock import FakeClock

DAILY_NINE = Schedule(cron="0 9 * * *", timezone="UTC")


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    s = Store.open(database_url)
    await s.migrate()
    yield s
    await s.close()


class Recorder:
    """The run function and outcome callback, remembering what they were given."""

    def __init__(self) -> None:
        self.runs: list[tuple[str, datetime, bool]] = []
        self.outcomes: list[tuple[str, str]] = []

    async def run(self, rule: str, at: datetime, late: bool) -> str:
        self.runs.append((rule, at, late))
        return "partial" if rule == "sweep" else "done"

    def outcome(self, rule: str, outcome: str) -> None:
        self.outcomes.append((rule, outcome))


def make(store: Store, clock: FakeClock, rec: Recorder) -> Scheduler:
    return Scheduler(
        RunLedger(store),
        rec.run,
        now=clock.now,
        default_tz="Europe/Berlin",
        owner="solo",
        on_outcome=rec.outcome,
    )


async def test_a_brand_new_rule_does_not_fire_for_the_past(store: Store) -> None:
    clock, rec = FakeClock(datetime(2026, 11, 23, 15, 0, tzinfo=UTC)), Recorder()
    sched = make(store, clock, rec)
    sched.set_rules([("daily", DAILY_NINE)])  # 09:00 today is six hours gone

    await sched.tick()
    await sched.catch_up(clock.now())

    assert rec.runs == []


async def test_a_brand_new_rule_fires_at_its_next_time(store: Store) -> None:
    clock, rec = FakeClock(datetime(2026, 11, 23, 15, 0, tzinfo=UTC)), Recorder()
    sched = make(store, clock, rec)
    sched.set_rules([("daily", DAILY_NINE)])

    clock.advance(timedelta(hours=18))
    await sched.tick()

    assert rec.runs == [("daily", datetime(2026, 11, 24, 9, 0, tzinfo=UTC), False)]


async def test_fortnightly_runs_fire_across_the_year_end_in_the_default_zone(
    store: Store,
) -> None:
    retro = Schedule(fortnightly={"start": "2026-12-16"}, at="10:00")  # zone: Europe/Berlin
    clock, rec = FakeClock(datetime(2026, 12, 16, 8, 0, tzinfo=UTC)), Recorder()
    sched = make(store, clock, rec)
    sched.set_rules([("retro", retro)])

    for _ in range(5 * 7 * 4):  # five weeks, a tick every six hours
        clock.advance(timedelta(hours=6))
        await sched.tick()

    assert [at for _, at, _ in rec.runs] == [
        datetime(2026, 12, 16, 9, 0, tzinfo=UTC),  # 10:00 CET
        datetime(2026, 12, 30, 9, 0, tzinfo=UTC),
        datetime(2027, 1, 13, 9, 0, tzinfo=UTC),
    ]


async def test_each_outcome_is_reported_to_the_callback(store: Store) -> None:
    clock, rec = FakeClock(datetime(2026, 11, 23, 8, 0, tzinfo=UTC)), Recorder()
    sched = make(store, clock, rec)
    sched.set_rules([("daily", DAILY_NINE), ("sweep", DAILY_NINE)])

    clock.advance(timedelta(hours=1))
    await sched.tick()

    assert sorted(rec.outcomes) == [("daily", "done"), ("sweep", "partial")]


async def test_the_last_run_and_its_outcome_are_in_the_ledger(store: Store) -> None:
    clock, rec = FakeClock(datetime(2026, 11, 23, 8, 0, tzinfo=UTC)), Recorder()
    sched = make(store, clock, rec)
    sched.set_rules([("sweep", DAILY_NINE)])

    clock.advance(timedelta(hours=1))
    await sched.tick()

    nine = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    assert await sched.ledger.last_fire("sweep") == nine
    [last] = await sched.ledger.last_runs("sweep", 1)
    assert (last.scheduled_at, last.status) == (nine, "partial")
