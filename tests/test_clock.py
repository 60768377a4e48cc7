"""The clock abstraction: tests advance time instead of sleeping."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from hooks.clock import FakeClock, SystemClock

START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def test_system_clock_reads_aware_utc() -> None:
    now = SystemClock().now()
    assert now.tzinfo is not None and now.utcoffset() == timedelta(0)


def test_fake_clock_stays_put_until_advanced() -> None:
    clock = FakeClock(START)
    assert clock.now() == START


def test_fake_clock_rejects_a_naive_start() -> None:
    with pytest.raises(ValueError, match="aware"):
        FakeClock(datetime(2026, 1, 1))


async def test_advance_moves_now_forward() -> None:
    clock = FakeClock(START)
    await clock.advance(timedelta(hours=2))
    assert clock.now() == START + timedelta(hours=2)


async def test_a_sleeper_wakes_only_once_its_deadline_has_passed() -> None:
    clock = FakeClock(START)
    woke: list[datetime] = []

    async def nap() -> None:
        await clock.sleep(60)
        woke.append(clock.now())

    task = asyncio.create_task(nap())
    await asyncio.sleep(0)
    await clock.advance(59)
    assert woke == []
    await clock.advance(1)
    await task
    assert woke == [START + timedelta(seconds=60)]


async def test_sleepers_wake_in_deadline_order_at_their_own_times() -> None:
    clock = FakeClock(START)
    woke: list[tuple[str, datetime]] = []

    async def nap(name: str, seconds: float) -> None:
        await clock.sleep(seconds)
        woke.append((name, clock.now()))

    tasks = [asyncio.create_task(nap("late", 30)), asyncio.create_task(nap("early", 10))]
    await asyncio.sleep(0)
    await clock.advance(100)
    await asyncio.gather(*tasks)
    assert woke == [
        ("early", START + timedelta(seconds=10)),
        ("late", START + timedelta(seconds=30)),
    ]


async def test_a_loop_of_sleeps_runs_once_per_period_in_one_advance() -> None:
    clock = FakeClock(START)
    ticks: list[datetime] = []

    async def every_ten_seconds() -> None:
        while True:
            await clock.sleep(10)
            ticks.append(clock.now())

    task = asyncio.create_task(every_ten_seconds())
    await asyncio.sleep(0)
    await clock.advance(35)
    task.cancel()
    assert ticks == [START + timedelta(seconds=s) for s in (10, 20, 30)]
    assert clock.now() == START + timedelta(seconds=35)


async def test_time_does_not_go_backwards() -> None:
    with pytest.raises(ValueError, match="backwards"):
        await FakeClock(START).advance(-1)
