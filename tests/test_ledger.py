"""The schedule run ledger: one claim per (rule, time), takeovers only when due."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from hooks.storage.runs import RunLedger
from hooks.storage.store import Store

AT = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
LEASE = timedelta(minutes=5)


@pytest.fixture
async def ledger(database_url: str) -> AsyncIterator[RunLedger]:
    store = Store.open(database_url)
    await store.migrate()
    yield RunLedger(store)
    await store.close()


async def test_the_first_claim_wins_and_a_second_is_refused(ledger: RunLedger) -> None:
    assert await ledger.claim("retro", AT, owner="a", lease=LEASE, now=AT)
    assert not await ledger.claim("retro", AT, owner="b", lease=LEASE, now=AT)


async def test_a_claim_whose_lease_expired_is_taken_over_once(ledger: RunLedger) -> None:
    await ledger.claim("retro", AT, owner="dead", lease=LEASE, now=AT)
    later = AT + LEASE + timedelta(seconds=1)

    assert await ledger.claim("retro", AT, owner="b", lease=LEASE, now=later)
    assert not await ledger.claim("retro", AT, owner="c", lease=LEASE, now=later)
    run = await ledger.get("retro", AT)
    assert run is not None and run.attempts == 2


async def test_the_old_owner_cannot_finish_a_run_taken_over(ledger: RunLedger) -> None:
    await ledger.claim("retro", AT, owner="slow", lease=LEASE, now=AT)
    await ledger.claim("retro", AT, owner="b", lease=LEASE, now=AT + 2 * LEASE)

    assert not await ledger.finish("retro", AT, status="done", now=AT, owner="slow")
    assert await ledger.finish("retro", AT, status="partial", now=AT, owner="b")
    run = await ledger.get("retro", AT)
    assert run is not None and run.status == "partial"


async def test_a_retry_is_claimable_only_once_it_is_due(ledger: RunLedger) -> None:
    await ledger.claim("retro", AT, owner="a", lease=LEASE, now=AT)
    due = AT + timedelta(minutes=2)
    await ledger.retry_later("retro", AT, "a", due, "GitLab said 502")

    assert await ledger.due_again(AT + timedelta(minutes=1)) == []
    assert not await ledger.claim("retro", AT, owner="b", lease=LEASE, now=due - LEASE / 10)
    assert await ledger.due_again(due) == [("retro", AT)]
    assert await ledger.claim("retro", AT, owner="b", lease=LEASE, now=due)


async def test_a_missed_run_is_recorded_and_never_claimable(ledger: RunLedger) -> None:
    await ledger.record_missed("retro", AT, AT + timedelta(days=3))

    assert not await ledger.claim("retro", AT, owner="a", lease=LEASE, now=AT + timedelta(days=3))
    [run] = await ledger.last_runs("retro", 5)
    assert (run.status, run.finished_at) == ("missed", AT + timedelta(days=3))


async def test_last_fire_is_the_latest_scheduled_time_of_that_rule(ledger: RunLedger) -> None:
    assert await ledger.last_fire("retro") is None
    await ledger.record_missed("retro", AT, AT)
    await ledger.claim("retro", AT + timedelta(days=7), owner="a", lease=LEASE, now=AT)
    await ledger.claim("other", AT + timedelta(days=30), owner="a", lease=LEASE, now=AT)

    assert await ledger.last_fire("retro") == AT + timedelta(days=7)


async def test_last_runs_are_newest_first_with_late_and_error(ledger: RunLedger) -> None:
    week = timedelta(days=7)
    await ledger.claim("retro", AT, owner="a", lease=LEASE, now=AT)
    await ledger.finish("retro", AT, status="failed", now=AT, error="boom")
    await ledger.claim("retro", AT + week, owner="a", lease=LEASE, now=AT + week, late=True)
    await ledger.finish("retro", AT + week, status="done", now=AT + week)

    runs = await ledger.last_runs("retro", 5)
    assert [(r.scheduled_at, r.status, r.late, r.error) for r in runs] == [
        (AT + week, "done", True, None),
        (AT, "failed", False, "boom"),
    ]
