"""The actions ledger: one key, one effect, on both engines."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from hooks.storage.actions import ActionLog, ClaimRequest, Finish
from hooks.storage.store import Store

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
LEASE = timedelta(seconds=30)


@pytest.fixture
async def ledger(database_url: str) -> AsyncIterator[ActionLog]:
    store = Store.open(database_url)
    await store.migrate()
    yield ActionLog(store)
    await store.close()


async def claim(  # type: ignore[no-untyped-def]
    ledger: ActionLog,
    owner: str = "w1",
    now: datetime = NOW,
    key: str = "k1",
    recent_since: datetime = NOW - timedelta(hours=1),
):
    request = ClaimRequest(
        key, "flag", "comment", "demo/product#1", {"internal": False}, None, None
    )
    claims = await ledger.claim_many(
        [request], owner=owner, lease=LEASE, now=now, recent_since=recent_since
    )
    return claims[key]


async def finish(
    ledger: ActionLog, key: str, status: str, owner: str = "w1", **result: object
) -> None:
    await ledger.finish_many([Finish(key, status, NOW, result or None)], owner)


async def test_first_claim_of_a_key_is_new(ledger: ActionLog) -> None:
    assert (await claim(ledger))[0] == "new"


async def test_a_finished_action_is_not_performed_again(ledger: ActionLog) -> None:
    await claim(ledger)
    await finish(ledger, "k1", "done", note_id=7)

    state, row, _ = await claim(ledger, owner="w2")

    assert state == "finished"
    assert row is not None and row.result == {"note_id": 7}


async def test_an_action_in_progress_elsewhere_is_busy(ledger: ActionLog) -> None:
    await claim(ledger, owner="w1")

    assert (await claim(ledger, owner="w2", now=NOW + timedelta(seconds=5)))[0] == "busy"


async def test_an_action_whose_worker_died_is_resumed_after_its_lease(ledger: ActionLog) -> None:
    await claim(ledger, owner="dead")

    state, row, _ = await claim(ledger, owner="w2", now=NOW + LEASE + timedelta(seconds=1))

    assert state == "resume"
    assert row is not None and row.attempts == 2


async def test_a_released_action_is_resumed_at_once(ledger: ActionLog) -> None:
    await claim(ledger)
    await ledger.finish_many([Finish("k1", "retry", NOW, error="502 Bad Gateway")], "w1")

    assert (await claim(ledger, owner="w2"))[0] == "resume"


async def test_a_dry_run_does_not_block_the_real_action_later(ledger: ActionLog) -> None:
    await claim(ledger)
    await finish(ledger, "k1", "dry_run")

    assert (await claim(ledger, owner="w2"))[0] == "resume"


async def test_a_claim_counts_the_writes_made_to_its_subject_since_a_time(
    ledger: ActionLog,
) -> None:
    for i in range(3):
        await claim(ledger, key=f"k{i}")
        await finish(ledger, f"k{i}", "done")
    await claim(ledger, key="k-satisfied")
    await finish(ledger, "k-satisfied", "satisfied")

    assert (await claim(ledger, key="next", recent_since=NOW - timedelta(hours=1)))[2] == 3
    assert (await claim(ledger, key="later", recent_since=NOW + timedelta(seconds=1)))[2] == 0
