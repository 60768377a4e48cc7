"""Schedules fire at the right local times, once, across restarts and replicas."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest

from hooks.processing.worker import RetryPolicy
from hooks.schedules.scheduler import Scheduler
from hooks.schedules.triggers import Schedule, fire_times, validate_cron
from hooks.storage.runs import RunLedger
from hooks.storage.store import Store
from hooks.testing.clock import FakeClock

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


def local(times: list[datetime]) -> list[str]:
    return [t.strftime("%Y-%m-%d %H:%M %z") for t in times]


# -- fire times on a fixed clock ------------------------------------------------------------


def test_second_and_fourth_wednesday_across_the_year_end_and_dst() -> None:
    retro = Schedule(
        monthly={"weekday": "wednesday", "nth": [2, 4]}, at="10:00", timezone="Europe/Berlin"
    )

    times = fire_times(retro, datetime(2026, 12, 1, tzinfo=UTC), 10, "UTC")

    assert local(times) == [
        "2026-12-09 10:00 +0100",
        "2026-12-23 10:00 +0100",
        "2027-01-13 10:00 +0100",
        "2027-01-27 10:00 +0100",
        "2027-02-10 10:00 +0100",
        "2027-02-24 10:00 +0100",
        "2027-03-10 10:00 +0100",
        "2027-03-24 10:00 +0100",
        "2027-04-14 10:00 +0200",
        "2027-04-28 10:00 +0200",  # summer time: still 10:00 local
    ]


def test_fortnightly_stays_fourteen_days_apart_through_a_53_week_year() -> None:
    # 2026 has an ISO week 53: cron's week='*/2' would fire in weeks 53 and 1 back to back.
    every_other = Schedule(fortnightly={"start": "2026-12-16"}, at="09:00")

    times = fire_times(every_other, datetime(2026, 12, 1, tzinfo=UTC), 5, "Europe/Berlin")

    assert local(times) == [
        "2026-12-16 09:00 +0100",
        "2026-12-30 09:00 +0100",
        "2027-01-13 09:00 +0100",
        "2027-01-27 09:00 +0100",
        "2027-02-10 09:00 +0100",
    ]
    assert {(b - a).days for a, b in pairwise(times)} == {14}
    assert [t.isocalendar().week for t in times[:3]] == [51, 53, 2]


def test_a_fortnightly_start_in_the_past_does_not_fire_for_every_missed_period() -> None:
    every_other = Schedule(fortnightly={"start": "2020-01-01"}, at="09:00", timezone="UTC")

    times = fire_times(every_other, datetime(2026, 11, 23, tzinfo=UTC), 2, "UTC")

    assert local(times) == ["2026-11-25 09:00 +0000", "2026-12-09 09:00 +0000"]


def test_a_time_in_the_spring_forward_gap_moves_forward() -> None:
    early = Schedule(fortnightly={"start": "2027-03-14"}, at="02:30", timezone="Europe/Berlin")

    times = fire_times(early, datetime(2027, 3, 1, tzinfo=UTC), 3, "UTC")

    assert local(times) == [
        "2027-03-14 02:30 +0100",
        "2027-03-28 03:30 +0200",
        "2027-04-11 02:30 +0200",
    ]


def test_weekday_cron_in_new_york_across_both_dst_switches() -> None:
    mornings = Schedule(cron="0 9 * * 1-5", timezone="America/New_York")

    march = fire_times(mornings, datetime(2027, 3, 12, 12, tzinfo=UTC), 2, "UTC")
    november = fire_times(mornings, datetime(2027, 11, 5, 12, tzinfo=UTC), 2, "UTC")

    assert local(march) == ["2027-03-12 09:00 -0500", "2027-03-15 09:00 -0400"]
    assert local(november) == ["2027-11-05 09:00 -0400", "2027-11-08 09:00 -0500"]


def test_cron_day_of_week_counts_sunday_as_zero_like_crontab() -> None:
    sundays = Schedule(cron="0 8 * * 0", timezone="UTC")

    times = fire_times(sundays, datetime(2026, 11, 23, tzinfo=UTC), 2, "UTC")

    assert [t.strftime("%A") for t in times] == ["Sunday", "Sunday"]


def test_cron_with_day_of_month_and_day_of_week_fires_on_either_like_crontab() -> None:
    first_or_monday = Schedule(cron="0 9 1 * 1", timezone="UTC")

    times = fire_times(first_or_monday, datetime(2026, 1, 1, tzinfo=UTC), 7, "UTC")

    assert [t.strftime("%a %Y-%m-%d %H:%M") for t in times] == [
        "Thu 2026-01-01 09:00",  # the 1st, not a Monday
        "Mon 2026-01-05 09:00",
        "Mon 2026-01-12 09:00",
        "Mon 2026-01-19 09:00",
        "Mon 2026-01-26 09:00",
        "Sun 2026-02-01 09:00",
        "Mon 2026-02-02 09:00",
    ]


def test_cron_with_a_starred_day_field_needs_both_days_like_crontab() -> None:
    odd_day_mondays = Schedule(cron="0 9 */2 * 1", timezone="UTC")

    times = fire_times(odd_day_mondays, datetime(2026, 1, 1, tzinfo=UTC), 3, "UTC")

    assert [t.strftime("%a %Y-%m-%d") for t in times] == [
        "Mon 2026-01-05",
        "Mon 2026-01-19",
        "Mon 2026-02-09",
    ]


def test_a_cron_time_in_the_spring_forward_gap_moves_forward_by_the_gap() -> None:
    early = Schedule(cron="30 2 * * *", timezone="Europe/Berlin")

    times = fire_times(early, datetime(2027, 3, 27, tzinfo=UTC), 3, "UTC")

    assert local(times) == [
        "2027-03-27 02:30 +0100",
        "2027-03-28 03:30 +0200",  # 02:30 does not exist that night
        "2027-03-29 02:30 +0200",
    ]


def test_a_cron_time_in_the_autumn_fold_fires_once() -> None:
    early = Schedule(cron="30 2 * * *", timezone="Europe/Berlin")

    times = fire_times(early, datetime(2027, 10, 30, tzinfo=UTC), 3, "UTC")
    # Asked between the two 02:30s of that night (at 02:40 summer time, 00:40 UTC).
    after_the_first = fire_times(early, datetime(2027, 10, 31, 0, 40, tzinfo=UTC), 1, "UTC")

    assert local(times) == [
        "2027-10-30 02:30 +0200",
        "2027-10-31 02:30 +0200",  # 02:30 comes twice that night: the first one
        "2027-11-01 02:30 +0100",
    ]
    assert local(after_the_first) == ["2027-11-01 02:30 +0100"]


def test_a_cron_every_half_hour_fires_once_at_each_wall_clock_time_across_both_switches() -> None:
    half_hourly = Schedule(cron="*/30 1-3 * * *", timezone="Europe/Berlin")

    spring = fire_times(half_hourly, datetime(2027, 3, 27, 23, tzinfo=UTC), 6, "UTC")
    autumn = fire_times(half_hourly, datetime(2027, 10, 30, 22, tzinfo=UTC), 6, "UTC")

    assert local(spring) == [
        "2027-03-28 01:00 +0100",
        "2027-03-28 01:30 +0100",
        "2027-03-28 03:00 +0200",  # 02:00 moved forward by the gap
        "2027-03-28 03:30 +0200",  # 02:30 likewise, and 03:00 and 03:30 are not repeated
        "2027-03-29 01:00 +0200",
        "2027-03-29 01:30 +0200",
    ]
    assert local(autumn) == [
        "2027-10-31 01:00 +0200",
        "2027-10-31 01:30 +0200",
        "2027-10-31 02:00 +0200",
        "2027-10-31 02:30 +0200",  # the repeated 02:00 and 02:30 do not fire again
        "2027-10-31 03:00 +0100",
        "2027-10-31 03:30 +0100",
    ]


def test_a_cron_time_moved_out_of_a_half_hour_gap_fires_after_the_times_it_passed() -> None:
    # Lord Howe Island springs forward by 30 minutes, from 02:00 to 02:30.
    twice_a_night = Schedule(cron="10,35 2 * * *", timezone="Australia/Lord_Howe")

    times = fire_times(twice_a_night, datetime(2026, 10, 3, 12, tzinfo=UTC), 4, "UTC")

    assert local(times) == [
        "2026-10-04 02:35 +1100",
        "2026-10-04 02:40 +1100",  # 02:10 did not exist: moved forward by the gap
        "2026-10-05 02:10 +1100",
        "2026-10-05 02:35 +1100",
    ]


def test_crontab_extensions_of_other_cron_dialects_are_refused() -> None:
    assert validate_cron("0 9 L * *") == (
        "bad cron '0 9 L * *': 'L' is not crontab (numbers, names like mon or jan, * , - /)"
    )
    assert validate_cron("0 9 * * 1#2") is not None
    assert validate_cron("0 9 ? * 1") is not None
    assert validate_cron("0 9 * * mon-fri") is None
    assert validate_cron("0 9 1 jan,jul *") is None


def test_the_last_friday_of_the_month() -> None:
    last = Schedule(monthly={"weekday": "friday", "nth": [-1]}, at="16:00", timezone="UTC")

    times = fire_times(last, datetime(2026, 12, 1, tzinfo=UTC), 3, "UTC")

    assert local(times) == [
        "2026-12-25 16:00 +0000",
        "2027-01-29 16:00 +0000",
        "2027-02-26 16:00 +0000",
    ]


def test_bad_crons_say_what_is_wrong() -> None:
    assert (
        validate_cron("0 9 * *")
        == "bad cron '0 9 * *': needs 5 fields (minute hour day month weekday)"
    )
    assert "day of week '9'" in (validate_cron("0 9 * * 9") or "")
    assert validate_cron("*/15 8-17 * * 1-5") is None


# -- the ledger and the scheduler ----------------------------------------------------------


WEEKLY = Schedule(cron="0 9 * * 3", timezone="UTC")  # Wednesdays 09:00 UTC
WED = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    s = Store.open(database_url)
    await s.migrate()
    yield s
    await s.close()


def scheduler(
    store: Store,
    clock: FakeClock,
    runs: list[tuple[str, datetime, bool]],
    fail: int = 0,
    owner: str = "a",
) -> Scheduler:
    failures = {"left": fail}

    async def run(rule: str, at: datetime, late: bool) -> str:
        # The run takes a while (the scenario, not a wait): a competing replica tries meanwhile.
        await asyncio.sleep(0.01)
        if failures["left"] > 0:
            failures["left"] -= 1
            raise RuntimeError("GitLab said 502")
        runs.append((rule, at, late))
        return "done"

    s = Scheduler(
        RunLedger(store),
        run,
        now=clock,
        default_tz="UTC",
        owner=owner,
        retry=RetryPolicy(max_attempts=3, base_s=60, cap_s=600),
    )
    s.set_rules([("retro", WEEKLY)])
    return s


async def test_a_due_run_fires_once_at_its_time(store: Store) -> None:
    clock, runs = FakeClock(WED - timedelta(minutes=1)), []
    sched = scheduler(store, clock, runs)

    await sched.tick()
    clock.advance(timedelta(minutes=2))
    await sched.tick()
    await sched.tick()

    assert runs == [("retro", WED, False)]


async def test_two_replicas_racing_for_the_same_run_run_it_once(store: Store) -> None:
    clock, runs = FakeClock(WED + timedelta(seconds=5)), []
    first, second = (
        scheduler(store, clock, runs, owner="a"),
        scheduler(store, clock, runs, owner="b"),
    )

    outcomes = await asyncio.gather(first.fire("retro", WED), second.fire("retro", WED))

    assert runs == [("retro", WED, False)]
    assert sorted(outcomes, key=str) == [None, "done"]


async def test_after_downtime_the_latest_run_within_grace_runs_late_and_older_are_missed(
    store: Store,
) -> None:
    clock, runs = FakeClock(WED), []
    await scheduler(store, clock, runs).fire("retro", WED)
    # Down for three weeks; back 2 hours after the third missed Wednesday.
    clock.advance(timedelta(weeks=3, hours=2))
    restarted = scheduler(store, clock, runs)

    await restarted.catch_up(clock())

    ledger = RunLedger(store)
    missed = [(await ledger.get("retro", WED + timedelta(weeks=w))) for w in (1, 2)]
    assert [m.status for m in missed if m] == ["missed", "missed"]
    assert runs[-1] == ("retro", WED + timedelta(weeks=3), True)
    late = await ledger.get("retro", WED + timedelta(weeks=3))
    assert late is not None and late.late and late.status == "done"


async def test_a_run_missed_beyond_grace_is_recorded_not_run(store: Store) -> None:
    clock, runs = FakeClock(WED), []
    await scheduler(store, clock, runs).fire("retro", WED)
    clock.advance(timedelta(weeks=1, days=2))  # the next Wednesday was two days ago

    await scheduler(store, clock, runs).catch_up(clock())

    run = await RunLedger(store).get("retro", WED + timedelta(weeks=1))
    assert run is not None and run.status == "missed" and "grace" in (run.error or "")
    assert len(runs) == 1


async def test_a_failing_run_is_retried_with_backoff_and_its_failure_recorded(
    store: Store,
) -> None:
    clock, runs = FakeClock(WED + timedelta(seconds=1)), []
    sched = scheduler(store, clock, runs, fail=1)

    assert await sched.fire("retro", WED) == "retry"
    first = await RunLedger(store).get("retro", WED)
    await sched.retry_due()  # not due yet
    clock.advance(timedelta(minutes=2))
    await sched.retry_due()

    assert first is not None and first.status == "retry" and "502" in (first.error or "")
    assert runs == [("retro", WED, False)]
    done = await RunLedger(store).get("retro", WED)
    assert done is not None and done.status == "done" and done.attempts == 2


async def test_a_run_failing_every_time_ends_failed_with_its_error(store: Store) -> None:
    clock, runs = FakeClock(WED + timedelta(seconds=1)), []
    sched = scheduler(store, clock, runs, fail=10)

    await sched.fire("retro", WED)
    for _ in range(3):
        clock.advance(timedelta(minutes=15))
        await sched.retry_due()

    run = await RunLedger(store).get("retro", WED)
    assert run is not None and run.status == "failed" and run.attempts == 3
    assert runs == []


async def test_a_run_whose_replica_died_is_taken_over_after_its_lease(store: Store) -> None:
    clock, runs = FakeClock(WED + timedelta(seconds=1)), []
    ledger = RunLedger(store)
    assert await ledger.claim("retro", WED, owner="dead", lease=timedelta(minutes=5), now=clock())

    survivor = scheduler(store, clock, runs, owner="b")
    await survivor.retry_due()
    clock.advance(timedelta(minutes=6))
    await survivor.retry_due()

    assert runs == [("retro", WED, False)]


@pytest.mark.timeout(60)  # APScheduler's cron trigger used to loop for ever on that night
async def test_a_rule_at_half_past_two_runs_once_on_the_night_the_clocks_go_back(
    store: Store,
) -> None:
    night = datetime(2027, 10, 30, 23, 0, tzinfo=UTC)  # 01:00 summer time in Berlin
    clock, runs = FakeClock(night), []
    sched = scheduler(store, clock, runs)
    sched.set_rules([("nightly", Schedule(cron="30 2 * * *", timezone="Europe/Berlin"))])

    while clock() < night + timedelta(hours=4):  # to 04:00 winter time, ticking each minute
        await sched.tick()
        clock.advance(timedelta(minutes=1))

    assert [(rule, local([at])) for rule, at, _late in runs] == [
        ("nightly", ["2027-10-31 02:30 +0200"])
    ]
