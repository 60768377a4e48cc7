"""The durable inbox: deliveries stored at intake, claimed under a lease, finished once."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, select, update

from hooks.storage.audit import insert_audit
from hooks.storage.database import Database
from hooks.storage.engine import dialect_insert
from hooks.storage.records import (
    AuditRecord,
    Delivery,
    NewDelivery,
    delivery_from_row,
    new_delivery_row,
)
from hooks.storage.tables import deliveries

INTAKE_BATCH = 200  # deliveries per group commit
_Waiter = tuple[NewDelivery, "asyncio.Future[tuple[int, bool]]"]


class Inbox:
    """Reads and writes of the `deliveries` table that move a delivery along."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._intake: list[_Waiter] = []
        self._intake_task: asyncio.Task[None] | None = None

    # -- intake ---------------------------------------------------------------

    async def add_delivery(self, new: NewDelivery) -> tuple[int, bool]:
        """Store a delivery unless its dedup key is known; return (id, duplicate).

        Concurrent calls are committed together (group commit): one transaction and one
        fsync for every delivery that arrived while the previous batch was being written.
        Each caller still returns only once its own delivery is on disk.
        """
        future: asyncio.Future[tuple[int, bool]] = asyncio.get_running_loop().create_future()
        self._intake.append((new, future))
        if self._intake_task is None or self._intake_task.done():
            self._intake_task = asyncio.create_task(self._write_intake())
        return await future

    async def _write_intake(self) -> None:
        while self._intake:
            batch, self._intake = self._intake[:INTAKE_BATCH], self._intake[INTAKE_BATCH:]
            await self._write_batch(batch)

    async def _write_batch(self, batch: list[_Waiter]) -> None:
        try:
            results = await self._insert_deliveries([new for new, _ in batch])
        except Exception as exc:
            if len(batch) > 1 and await self.db.reachable():
                # The database is up but refused a row: the delivery it cannot hold must not
                # take the rest of its batch down with it, so each is written alone.
                for one in batch:
                    await self._write_batch([one])
                return
            for _, future in batch:  # every caller of the batch learns it was not stored
                if not future.done():
                    future.set_exception(exc)
            return
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)

    async def _insert_deliveries(self, batch: list[NewDelivery]) -> list[tuple[int, bool]]:
        first: dict[str, NewDelivery] = {}
        for new in batch:
            first.setdefault(new.dedup_key, new)
        rows = [new_delivery_row(new) for new in first.values()]
        stmt = _intake_statement(self.db.dialect)

        def write(conn: Connection) -> tuple[dict[str, int], dict[str, int]]:
            inserted = {key: int(i) for i, key in conn.execute(stmt, rows).all()}
            known = [key for key in first if key not in inserted]
            if not known:
                return inserted, {}
            found = conn.execute(select(_D.id, _D.dedup_key).where(_D.dedup_key.in_(known)))
            return inserted, {key: int(i) for i, key in found.all()}

        inserted, existing = await self.db.transact(write)
        results = []
        claimed: set[str] = set()
        for new in batch:
            key = new.dedup_key
            if key in inserted and key not in claimed:
                claimed.add(key)  # the first of the batch inserted it; repeats are duplicates
                results.append((inserted[key], False))
            else:
                results.append((inserted.get(key) or existing[key], True))
        return results

    # -- worker ---------------------------------------------------------------

    async def claim(
        self, owner: str, limit: int, lease: timedelta, now: datetime
    ) -> list[Delivery]:
        """Lease up to `limit` due deliveries, including those whose lease ran out."""
        params = {"b_now": now, "b_owner": owner, "b_until": now + lease}
        stmt = _claim_statement(limit)
        rows = await self.db.transact(lambda conn: conn.execute(stmt, params).all())
        return sorted((delivery_from_row(row) for row in rows), key=lambda x: x.id)

    async def extend_lease(self, ids: Sequence[int], owner: str, until: datetime) -> None:
        if not ids:
            return
        stmt = (
            update(deliveries)
            .where(_D.id.in_(list(ids)) & (_D.lease_owner == owner))
            .values(lease_expires_at=until)
        )
        await self.db.transact(lambda conn: conn.execute(stmt))

    async def finish(
        self,
        delivery_id: int,
        owner: str,
        *,
        status: str,
        now: datetime,
        records: Sequence[AuditRecord] = (),
        error: str | None = None,
    ) -> bool:
        """Record the outcome and its audit lines at once, if this owner still holds the lease.

        Returns False when the lease was lost (another worker reclaimed the
        delivery): nothing is written, so the outcome is recorded exactly once.
        """
        params = {
            "b_id": delivery_id,
            "b_owner": owner,
            "b_status": status,
            "b_now": now,
            "b_error": error,
        }

        def write(conn: Connection) -> bool:
            if conn.execute(_FINISH, params).rowcount != 1:
                return False
            insert_audit(conn, records, now, delivery_id=delivery_id)
            return True

        return await self.db.transact(write)

    async def retry_later(
        self, delivery_id: int, owner: str, *, at: datetime, error: str, now: datetime
    ) -> bool:
        """Give a claimed delivery back to the queue, due again at `at`."""
        back = (
            update(deliveries)
            .where((_D.id == delivery_id) & (_D.lease_owner == owner))
            .values(
                status="pending",
                lease_owner=None,
                lease_expires_at=None,
                next_attempt_at=at,
                last_error=error,
            )
        )
        record = AuditRecord(kind="error", outcome="retry", detail={"error": error})

        def write(conn: Connection) -> bool:
            if conn.execute(back).rowcount != 1:
                return False
            insert_audit(conn, [record], now, delivery_id=delivery_id)
            return True

        return await self.db.transact(write)

    async def release(self, ids: Sequence[int], owner: str) -> None:
        """Hand unfinished claims back at shutdown without counting the attempt."""
        if not ids:
            return
        stmt = (
            update(deliveries)
            .where(_D.id.in_(list(ids)) & (_D.lease_owner == owner))
            .values(
                status="pending",
                lease_owner=None,
                lease_expires_at=None,
                attempts=_D.attempts - 1,
            )
        )
        await self.db.transact(lambda conn: conn.execute(stmt))

    async def replay(self, delivery_id: int, now: datetime) -> bool:
        """Queue a finished delivery again; False if unknown or still being processed."""
        again = (
            update(deliveries)
            .where((_D.id == delivery_id) & (_D.status != "processing"))
            .values(
                status="pending",
                attempts=0,
                next_attempt_at=now,
                finished_at=None,
                last_error=None,
            )
        )
        record = AuditRecord(kind="replay", outcome="queued")

        def write(conn: Connection) -> bool:
            if conn.execute(again).rowcount != 1:
                return False
            insert_audit(conn, [record], now, delivery_id)
            return True

        return await self.db.transact(write)


# The statements run for every delivery are built once: building a SQLAlchemy statement
# and its cache key costs about as much CPU as the SQLite transaction that runs it.
_D = deliveries.c
_FINISH = (
    update(deliveries)
    .where((_D.id == bindparam("b_id")) & (_D.lease_owner == bindparam("b_owner")))
    .values(
        status=bindparam("b_status"),
        lease_owner=None,
        lease_expires_at=None,
        finished_at=bindparam("b_now"),
        last_error=bindparam("b_error"),
    )
)


@functools.cache
def _intake_statement(dialect: str) -> Any:
    # One statement executed with many parameter sets: SQLAlchemy compiles it once and
    # caches it, where a multi-row .values(rows) was compiled anew for every batch.
    return (
        dialect_insert(dialect)(deliveries)
        .on_conflict_do_nothing(index_elements=["dedup_key"])
        .returning(_D.id, _D.dedup_key)
    )


@functools.cache
def _claim_statement(limit: int) -> Any:
    """Lease up to `limit` due deliveries (one statement per limit, built once)."""
    due = (
        select(_D.id)
        .where(
            ((_D.status == "pending") & (_D.next_attempt_at <= bindparam("b_now")))
            | ((_D.status == "processing") & (_D.lease_expires_at < bindparam("b_now")))
        )
        .order_by(_D.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return (
        update(deliveries)
        .where(_D.id.in_(due.scalar_subquery()))
        .values(
            status="processing",
            lease_owner=bindparam("b_owner"),
            lease_expires_at=bindparam("b_until"),
            attempts=_D.attempts + 1,
        )
        .returning(*deliveries.c)
    )
