"""The test helpers every test waits and fakes time with, and the periodic-job runner."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hooks.periodic import Periodic, slot_of
from hooks.testing.clock import FakeClock
from hooks.testing.waiting import NotInTime, eventually, eventually_sync

START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


async def test_eventually_returns_the_first_truthy_value_of_a_sync_or_async_check() -> None:
    calls = {"n": 0}

    def third_time() -> int | None:
        calls["n"] += 1
        return calls["n"] if calls["n"] >= 3 else None

    async def at_once() -> str:
        return "yes"

    assert await eventually(third_time, every_s=0) == 3
    assert await eventually(at_once) == "yes"


async def test_eventually_fails_with_what_it_last_saw() -> None:
    with pytest.raises(NotInTime, match=r"last saw \[\]"):
        await eventually(list, within_s=0.05)
    with pytest.raises(AssertionError, match="last raised AssertionError: still 1"):

        def never() -> bool:
            raise AssertionError("still 1")

        await eventually(never, within_s=0.05)


async def test_eventually_fails_at_once_on_an_exception_it_does_not_ignore() -> None:
    def broken() -> bool:
        raise KeyError("gone")

    with pytest.raises(KeyError):
        await eventually(broken, within_s=30, ignoring=(AssertionError,))


def test_eventually_sync_polls_and_times_out_as_a_timeout_too() -> None:
    seen: list[int] = []
    assert eventually_sync(lambda: seen.append(1) or len(seen) >= 2, every_s=0)
    with pytest.raises(TimeoutError, match="nothing did not hold"):
        eventually_sync(lambda: False, within_s=0.02, what="nothing")


def test_the_fake_clock_moves_only_when_told() -> None:
    clock = FakeClock(START)
    assert clock() == clock.now() == START and clock.monotonic() == 0.0
    clock.advance(timedelta(hours=2))
    clock.advance(0.5)
    clock.sleep(0.25)
    assert clock.now() == START + timedelta(hours=2, seconds=0.75)
    assert clock.monotonic() == 7200.75
    assert clock.timestamp() == START.timestamp() + 7200.75


def test_the_fake_clock_refuses_naive_starts_and_going_back() -> None:
    with pytest.raises(ValueError, match="aware"):
        FakeClock(datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="backwards"):
        FakeClock(START).advance(-1)


def test_slots_are_aligned_on_the_epoch() -> None:
    assert slot_of(START + timedelta(seconds=299), 300) == START
    assert slot_of(START + timedelta(seconds=300), 300) == START + timedelta(seconds=300)


async def test_a_periodic_job_runs_per_slot_and_survives_its_failures() -> None:
    slots: list[datetime] = []

    async def job(slot: datetime) -> None:
        slots.append(slot)
        raise RuntimeError("GitLab said 502")  # logged; the loop keeps going

    periodic = Periodic(lambda: datetime.now(UTC))
    periodic.every("test", 1.0, job, first_after_s=0)
    try:
        await eventually(lambda: len(slots) >= 2, within_s=10)
    finally:
        await periodic.stop()
    assert slots[1] - slots[0] >= timedelta(seconds=1)
    assert all(slot == slot_of(slot, 1.0) for slot in slots)
