"""What the watchdog did with each failed entry of a watched hook's event log.

One row per log entry (scope, hook, GitLab's hook_event_id): resent, found already received
(its Idempotency-Key is a stored delivery), given up (resent too often), or gone from the log.
Rows also count the resends of the last minute, which GitLab limits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from hooks.storage.engine import dialect_insert
from hooks.storage.records import dedup_key
from hooks.storage.store import Store
from hooks.storage.tables import deliveries, resent_events


@dataclass(frozen=True)
class ResentEvent:
    scope: str
    hook_id: int
    log_id: int
    idempotency_key: str | None
    event: str | None
    failed_status: str | None
    outcome: str
    response_status: str | None
    created_at: datetime

    def as_dict(self) -> dict[str, Any]:
        """The dashboard's view."""
        return {
            "hook": f"{self.scope}:{self.hook_id}",
            "log_id": self.log_id,
            "event": self.event,
            "failed_status": self.failed_status,
            "outcome": self.outcome,
            "response_status": self.response_status,
            "idempotency_key": self.idempotency_key,
            "created_at": self.created_at,
        }


class ResendStore:
    """Reads and writes of `resent_events`."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def handled(self, scope: str, hook_id: int) -> set[int]:
        """Log entries of this hook already dealt with."""
        async with self.store.engine.connect() as conn:
            rows = await conn.execute(
                select(resent_events.c.log_id).where(
                    resent_events.c.scope == scope, resent_events.c.hook_id == hook_id
                )
            )
            return {row.log_id for row in rows}

    async def received(self, keys: Sequence[str]) -> set[str]:
        """Which of these Idempotency-Keys are stored deliveries."""
        if not keys:
            return set()
        stored = {dedup_key(key, "", b""): key for key in keys}
        async with self.store.engine.connect() as conn:
            rows = await conn.execute(
                select(deliveries.c.dedup_key).where(deliveries.c.dedup_key.in_(list(stored)))
            )
            return {stored[row.dedup_key] for row in rows}

    async def resends_of(self, key: str) -> int:
        """How often the delivery with this Idempotency-Key was resent already."""
        async with self.store.engine.connect() as conn:
            count = await conn.scalar(
                select(func.count()).where(
                    resent_events.c.idempotency_key == key, resent_events.c.outcome == "resent"
                )
            )
            return int(count or 0)

    async def resent_since(self, scope: str, since: datetime) -> int:
        """Resend requests made for hooks of this project or group since then."""
        async with self.store.engine.connect() as conn:
            count = await conn.scalar(
                select(func.count()).where(
                    resent_events.c.scope == scope,
                    resent_events.c.outcome == "resent",
                    resent_events.c.created_at >= since,
                )
            )
            return int(count or 0)

    async def record(self, event: ResentEvent) -> None:
        """Record an entry once (a second record of the same entry changes nothing)."""
        values = {
            "scope": event.scope,
            "hook_id": event.hook_id,
            "log_id": event.log_id,
            "idempotency_key": event.idempotency_key,
            "event": event.event,
            "failed_status": event.failed_status,
            "outcome": event.outcome,
            "response_status": event.response_status,
            "created_at": event.created_at,
        }
        stmt = (
            dialect_insert(self.store.dialect)(resent_events)
            .values(values)
            .on_conflict_do_nothing(index_elements=["scope", "hook_id", "log_id"])
        )
        await self.store.transact(lambda conn: conn.execute(stmt))

    async def recent(self, limit: int = 50) -> list[ResentEvent]:
        """The newest entries first."""
        async with self.store.engine.connect() as conn:
            rows = await conn.execute(
                select(resent_events).order_by(resent_events.c.id.desc()).limit(limit)
            )
            return [
                ResentEvent(
                    scope=row.scope,
                    hook_id=row.hook_id,
                    log_id=row.log_id,
                    idempotency_key=row.idempotency_key,
                    event=row.event,
                    failed_status=row.failed_status,
                    outcome=row.outcome,
                    response_status=row.response_status,
                    created_at=row.created_at,
                )
                for row in rows
            ]
