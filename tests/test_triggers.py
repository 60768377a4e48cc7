"""Schedule zones and the APScheduler trigger that fires at exactly the computed times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hooks.schedules.triggers import RuleTrigger, Schedule, apscheduler_trigger, fire_times


def test_a_schedule_uses_its_own_zone() -> None:
    schedule = Schedule(cron="0 9 * * *", timezone="Asia/Tokyo")
    assert schedule.zone("Europe/Berlin") == ZoneInfo("Asia/Tokyo")


def test_a_schedule_without_a_zone_uses_the_default() -> None:
    assert Schedule(cron="0 9 * * *").zone("Europe/Berlin") == ZoneInfo("Europe/Berlin")


def test_the_apscheduler_trigger_carries_the_zone_explicitly() -> None:
    trigger = apscheduler_trigger(Schedule(cron="0 9 * * *"), "America/New_York")
    assert isinstance(trigger, RuleTrigger)
    assert trigger.timezone == ZoneInfo("America/New_York")


def test_the_apscheduler_trigger_walks_the_same_times_as_fire_times() -> None:
    schedule = Schedule(
        monthly={"weekday": "wednesday", "nth": [2, 4]}, at="10:00", timezone="Europe/Berlin"
    )
    now = datetime(2026, 10, 1, tzinfo=UTC)
    trigger = apscheduler_trigger(schedule, "UTC")
    walked: list[datetime] = []
    previous = None
    for _ in range(6):
        previous = trigger.get_next_fire_time(previous, now)
        assert previous is not None
        walked.append(previous)
    assert walked == fire_times(schedule, now, 6, "UTC")
    assert [t.strftime("%Y-%m-%d %H:%M %z") for t in walked[:3]] == [
        "2026-10-14 10:00 +0200",
        "2026-10-28 10:00 +0100",  # after the October switch: still 10:00 local
        "2026-11-11 10:00 +0100",
    ]


def test_a_fire_time_equal_to_now_is_still_due_for_apscheduler() -> None:
    schedule = Schedule(cron="0 9 * * *", timezone="UTC")
    nine = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    trigger = apscheduler_trigger(schedule, "UTC")
    assert trigger.get_next_fire_time(None, nine) == nine
    assert trigger.get_next_fire_time(nine, nine) == nine + timedelta(days=1)
