"""The schedule run ledger: each (rule, scheduled time) is claimed once, across replicas.

A claim is an INSERT against the unique (rule, scheduled_at) pair; only the replica whose
insert lands runs it. A run whose claimer died (lease expired) or that failed and is due
for a retry is taken over by a guarded UPDATE, so again only one replica gets it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, select, update

from hooks.storage.engine import dialect_insert
from hooks.storage.store import Store
from hooks.storage.tables import schedule_runs


@dataclass(frozen=True)
class Run:
    rule: str
    scheduled_at: datetime
    status: str
    late: bool
    attempts: int
    finished_at: datetime | None
    error: str | None


def _run(row: Any) -> Run:
    return Run(
        rule=row.rule,
        scheduled_at=row.scheduled_at,
        status=row.status,
        late=bool(row.late),
        attempts=row.attempts,
        finished_at=row.finished_at,
        error=row.error,
    )


class RunLedger:
    """Reads and writes of the `schedule_runs` table."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def claim(
        self,
        rule: str,
        scheduled_at: datetime,
        *,
        owner: str,
        lease: timedelta,
        now: datetime,
        late: bool = False,
    ) -> bool:
        """True if this owner may run it now (first claim, dead claimer, or retry due)."""
        r = schedule_runs.c
        insert = dialect_insert(self.store.dialect)
        stmt = (
            insert(schedule_runs)
            .values(
                rule=rule,
                scheduled_at=scheduled_at,
                status="running",
                late=int(late),
                attempts=1,
                owner=owner,
                lease_expires_at=now + lease,
                started_at=now,
            )
            .on_conflict_do_nothing(index_elements=["rule", "scheduled_at"])
            .returning(r.id)
        )
        take_over = (
            update(schedule_runs)
            .where(
                (r.rule == rule)
                & (r.scheduled_at == scheduled_at)
                & (
                    ((r.status == "running") & (r.lease_expires_at < now))
                    | ((r.status == "retry") & (r.next_attempt_at <= now))
                )
            )
            .values(
                status="running",
                owner=owner,
                lease_expires_at=now + lease,
                attempts=r.attempts + 1,
                started_at=now,
            )
        )

        def write(conn: Connection) -> bool:
            if conn.execute(stmt).scalar_one_or_none() is not None:
                return True
            return conn.execute(take_over).rowcount == 1

        return await self.store.transact(write)

    async def finish(
        self,
        rule: str,
        scheduled_at: datetime,
        *,
        status: str,
        now: datetime,
        error: str | None = None,
        next_attempt_at: datetime | None = None,
        owner: str | None = None,
    ) -> bool:
        """Record a run's outcome (or, with status 'retry', when to try again).

        With `owner`, only while that owner still holds the claim: a replica whose lease
        expired and was taken over must not overwrite the new claimer's run. False if not.
        """
        r = schedule_runs.c
        where = (r.rule == rule) & (r.scheduled_at == scheduled_at)
        if owner is not None:
            where &= (r.owner == owner) & (r.status == "running")
        stmt = (
            update(schedule_runs)
            .where(where)
            .values(
                status=status,
                error=error,
                finished_at=now if status != "retry" else None,
                next_attempt_at=next_attempt_at,
                owner=None,
                lease_expires_at=None,
            )
        )
        return await self.store.transact(lambda conn: conn.execute(stmt).rowcount == 1)

    async def retry_later(
        self, rule: str, scheduled_at: datetime, owner: str, at: datetime, error: str
    ) -> bool:
        """Give up this attempt; the run is due again (for any replica) at `at`."""
        return await self.finish(
            rule, scheduled_at, status="retry", now=at, error=error, next_attempt_at=at, owner=owner
        )

    async def record_missed(self, rule: str, scheduled_at: datetime, now: datetime) -> None:
        """A run too old to catch up on: recorded, never run."""
        insert = dialect_insert(self.store.dialect)
        stmt = (
            insert(schedule_runs)
            .values(
                rule=rule,
                scheduled_at=scheduled_at,
                status="missed",
                finished_at=now,
                error="missed while the service was down; beyond the grace window",
            )
            .on_conflict_do_nothing(index_elements=["rule", "scheduled_at"])
        )
        await self.store.transact(lambda conn: conn.execute(stmt))

    async def get(self, rule: str, scheduled_at: datetime) -> Run | None:
        r = schedule_runs.c
        async with self.store.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(schedule_runs).where((r.rule == rule) & (r.scheduled_at == scheduled_at))
                )
            ).one_or_none()
        return _run(row) if row else None

    async def last_fire(self, rule: str) -> datetime | None:
        """The latest scheduled time the ledger knows for a rule (run, failed or missed)."""
        r = schedule_runs.c
        async with self.store.engine.connect() as conn:
            value: datetime | None = (
                await conn.execute(select(func.max(r.scheduled_at)).where(r.rule == rule))
            ).scalar_one_or_none()
        return value

    async def last_runs(self, rule: str, limit: int = 5) -> list[Run]:
        r = schedule_runs.c
        async with self.store.engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(schedule_runs)
                    .where(r.rule == rule)
                    .order_by(r.scheduled_at.desc())
                    .limit(limit)
                )
            ).all()
        return [_run(row) for row in rows]

    async def due_again(self, now: datetime) -> list[tuple[str, datetime]]:
        """Runs to take over: retries that are due and claims whose claimer died."""
        r = schedule_runs.c
        async with self.store.engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(r.rule, r.scheduled_at).where(
                        ((r.status == "retry") & (r.next_attempt_at <= now))
                        | ((r.status == "running") & (r.lease_expires_at < now))
                    )
                )
            ).all()
        return [(row.rule, row.scheduled_at) for row in rows]
