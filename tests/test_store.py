"""The inbox on both engines: deduplication, exclusive claims, leases, outcomes, replay."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Connection, update

from hooks.processing.worker import utcnow
from hooks.storage.records import AuditRecord, NewDelivery, dedup_key
from hooks.storage.store import Store
from hooks.storage.tables import deliveries

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
LEASE = timedelta(seconds=30)


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    opened = Store.open(database_url)
    await opened.migrate()
    yield opened
    await opened.close()


def delivery(key: str, at: datetime = T0) -> NewDelivery:
    return NewDelivery(
        dedup_key=key,
        event_header="Issue Hook",
        kind="issue",
        project="demo/product",
        event_uuid=None,
        headers={"X-Gitlab-Event": "Issue Hook"},
        body=b'{"object_kind": "issue"}',
        received_at=at,
    )


async def test_migrations_apply_twice_without_error(store: Store) -> None:
    await store.migrate()


async def test_a_known_dedup_key_returns_the_first_delivery(store: Store) -> None:
    first = await store.add_delivery(delivery("k"))
    again = await store.add_delivery(delivery("k"))
    assert first == (first[0], False)
    assert again == (first[0], True)


async def test_dedup_key_prefers_the_idempotency_key_over_the_body() -> None:
    assert dedup_key("abc", "issue", b"1") == dedup_key("abc", "issue", b"2")
    assert dedup_key(None, "issue", b"1") != dedup_key(None, "issue", b"2")


async def test_dedup_key_of_a_kind_is_the_one_its_usual_header_had_before() -> None:
    # Deliveries stored before keys hashed the kind keep matching their re-sends.
    before = "sha256:" + hashlib.sha256(b"Issue Hook\0" + b"1").hexdigest()
    assert dedup_key(None, "issue", b"1") == before


async def test_two_workers_never_claim_the_same_delivery(store: Store) -> None:
    for i in range(10):
        await store.add_delivery(delivery(f"k{i}"))
    a = await store.claim("a", 6, LEASE, T0)
    b = await store.claim("b", 6, LEASE, T0)
    assert len(a) == 6 and len(b) == 4
    assert not {d.id for d in a} & {d.id for d in b}
    assert all(d.status == "processing" and d.attempts == 1 for d in a + b)


async def test_an_expired_lease_is_claimed_again(store: Store) -> None:
    await store.add_delivery(delivery("k"))
    [claimed] = await store.claim("dead", 1, LEASE, T0)
    assert await store.claim("alive", 1, LEASE, T0 + timedelta(seconds=29)) == []
    [reclaimed] = await store.claim("alive", 1, LEASE, T0 + timedelta(seconds=31))
    assert reclaimed.id == claimed.id
    assert reclaimed.attempts == 2


async def test_a_worker_that_lost_its_lease_cannot_record_an_outcome(store: Store) -> None:
    await store.add_delivery(delivery("k"))
    [d] = await store.claim("dead", 1, LEASE, T0)
    await store.claim("alive", 1, LEASE, T0 + timedelta(minutes=1))
    record = AuditRecord(kind="event", outcome="recorded")
    assert not await store.finish(d.id, "dead", status="done", now=T0, records=[record])
    assert await store.finish(d.id, "alive", status="done", now=T0, records=[record])
    assert len(await store.audit_for(delivery_id=d.id)) == 1


async def test_a_retry_is_not_due_before_its_time(store: Store) -> None:
    await store.add_delivery(delivery("k"))
    [d] = await store.claim("w", 1, LEASE, T0)
    later = T0 + timedelta(seconds=10)
    assert await store.retry_later(d.id, "w", at=later, error="boom", now=T0)
    assert await store.claim("w", 1, LEASE, T0 + timedelta(seconds=9)) == []
    [again] = await store.claim("w", 1, LEASE, later)
    assert again.last_error == "boom"


async def test_released_claims_are_due_again_without_counting_an_attempt(store: Store) -> None:
    await store.add_delivery(delivery("k"))
    [d] = await store.claim("w", 1, LEASE, T0)
    await store.release([d.id], "w")
    [again] = await store.claim("w2", 1, LEASE, T0)
    assert again.attempts == 1


async def test_replay_queues_a_finished_delivery_again(store: Store) -> None:
    await store.add_delivery(delivery("k"))
    [d] = await store.claim("w", 1, LEASE, T0)
    await store.finish(d.id, "w", status="failed", now=T0, error="bad")
    assert await store.replay(d.id, T0)
    [again] = await store.claim("w", 1, LEASE, T0)
    assert again.id == d.id and again.last_error is None


async def test_replay_of_an_unknown_delivery_is_refused(store: Store) -> None:
    assert not await store.replay(999, T0)


async def test_stats_count_the_queue_and_age_the_oldest_pending(store: Store) -> None:
    await store.add_delivery(delivery("old", T0))
    await store.add_delivery(delivery("new", T0 + timedelta(seconds=50)))
    stats = await store.stats(T0 + timedelta(seconds=60))
    assert (stats.pending, stats.processing) == (2, 0)
    assert stats.oldest_pending_age_s == pytest.approx(60)


async def test_audit_is_queryable_by_subject(store: Store) -> None:
    await store.add_delivery(delivery("k"))
    [d] = await store.claim("w", 1, LEASE, T0)
    records = [
        AuditRecord(kind="event", outcome="recorded", subject="demo/product#1"),
        AuditRecord(kind="rule", outcome="matched", subject="demo/product#2", rule="r"),
    ]
    await store.finish(d.id, "w", status="done", now=T0, records=records)
    [line] = await store.audit_for(subject="demo/product#2")
    assert (line["rule"], line["outcome"], line["delivery_id"]) == ("r", "matched", d.id)


async def test_an_outcome_without_audit_lines_records_none(store: Store) -> None:
    await store.add_delivery(delivery("k"))
    [d] = await store.claim("w", 1, LEASE, T0)
    assert await store.finish(d.id, "w", status="done", now=T0)
    assert await store.audit_for(delivery_id=d.id) == []
    finished = await store.get_delivery(d.id)
    assert finished is not None and finished.status == "done"


async def test_a_transaction_that_raises_writes_nothing_and_the_store_stays_usable(
    store: Store,
) -> None:
    stored, _ = await store.add_delivery(delivery("k"))

    def finish_then_fail(conn: Connection) -> None:
        conn.execute(update(deliveries).values(status="done"))
        raise RuntimeError("planned failure")

    with pytest.raises(RuntimeError, match="planned failure"):
        await store.transact(finish_then_fail)
    kept = await store.get_delivery(stored)
    assert kept is not None and kept.status == "pending"
    assert [d.id for d in await store.claim("w", 5, LEASE, T0)] == [stored]


async def test_a_failing_transaction_among_concurrent_ones_fails_only_its_caller(
    store: Store,
) -> None:
    ids = [(await store.add_delivery(delivery(f"k{i}")))[0] for i in range(4)]

    def mark(delivery_id: int) -> Callable[[Connection], int]:
        def work(conn: Connection) -> int:
            done = update(deliveries).where(deliveries.c.id == delivery_id)
            return conn.execute(done.values(status="done")).rowcount

        return work

    def fail(conn: Connection) -> None:
        conn.execute(update(deliveries).values(status="failed"))
        raise RuntimeError("planned failure")

    answers = await asyncio.gather(
        store.transact(mark(ids[0])),
        store.transact(fail),
        store.transact(mark(ids[1])),
        return_exceptions=True,
    )

    assert answers[0] == 1 and answers[2] == 1
    assert isinstance(answers[1], RuntimeError)
    statuses = [(await store.get_delivery(i)) for i in ids]
    assert [d.status if d else None for d in statuses] == ["done", "done", "pending", "pending"]


async def test_concurrent_deliveries_are_committed_together_and_each_answered(
    database_url: str,
) -> None:
    import asyncio

    store = Store.open(database_url)
    await store.migrate()
    try:
        news = [
            NewDelivery(f"key:{n % 40}", "Issue Hook", "issue", "a/b", None, {}, b"{}", utcnow())
            for n in range(100)
        ]
        results = await asyncio.gather(*(store.add_delivery(n) for n in news))
    finally:
        stored = await store.list_deliveries(limit=1000)
        await store.close()

    assert len(stored) == 40
    assert sum(not duplicate for _, duplicate in results) == 40
    ids = {n.dedup_key: i for n, (i, dup) in zip(news, results, strict=True) if not dup}
    assert all(i == ids[n.dedup_key] for n, (i, _) in zip(news, results, strict=True))


async def test_a_delivery_postgresql_refuses_does_not_refuse_the_rest_of_its_batch(
    postgres_url: str,
) -> None:
    import asyncio

    store = Store.open(postgres_url)
    await store.migrate()
    try:
        news = [
            NewDelivery(f"key:{n}", "Issue Hook", "issue", "a/b", None, {}, b"{}", utcnow())
            for n in range(20)
        ]
        # PostgreSQL text cannot hold a NUL: this row is refused, in the same group commit.
        news[7] = NewDelivery("key:nul", "Issue Hook", "issue", "a/\x00", None, {}, b"{}", utcnow())
        results = await asyncio.gather(
            *(store.add_delivery(n) for n in news), return_exceptions=True
        )
    finally:
        stored = await store.list_deliveries(limit=1000)
        await store.close()

    assert isinstance(results[7], Exception)
    answered = [r for i, r in enumerate(results) if i != 7]
    assert all(isinstance(r, tuple) and r[1] is False for r in answered)
    assert sorted(d.id for d in stored) == sorted(r[0] for r in answered if isinstance(r, tuple))
    assert len(stored) == 19


async def test_a_batch_mixing_stored_and_new_keys_answers_each_with_its_own_id(
    database_url: str,
) -> None:
    import asyncio
    import dataclasses

    store = Store.open(database_url)
    await store.migrate()
    try:

        def numbered(n: int) -> NewDelivery:
            return dataclasses.replace(delivery(f"key:{n}"), body=str(n).encode())

        first = [await store.add_delivery(numbered(n)) for n in range(0, 30, 3)]
        results = await asyncio.gather(*(store.add_delivery(numbered(n)) for n in range(30)))
        stored = await store.list_deliveries(limit=1000)
    finally:
        await store.close()

    assert len(stored) == 30
    assert [results[n] for n in range(0, 30, 3)] == [(i, True) for i, _ in first]
    new = [results[n] for n in range(30) if n % 3]
    assert all(not duplicate for _, duplicate in new)
    by_number = {int(d.body): d.id for d in stored}
    assert all(results[n][0] == by_number[n] for n in range(30))


def test_the_newest_migration_is_read_from_the_scripts_as_alembic_reads_it() -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from hooks.storage.migrations import MIGRATIONS, head_revision

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    assert [head_revision()] == ScriptDirectory.from_config(config).get_heads()


async def test_a_database_already_at_the_newest_migration_is_left_as_it_is(
    store: Store,
) -> None:
    stored = await store.add_delivery(delivery("key:kept"))
    await store.migrate()

    assert await store.add_delivery(delivery("key:kept")) == (stored[0], True)
