"""The audit trail, and the read queries of the dashboard and the CLI."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, func, select

from hooks.storage.database import Database
from hooks.storage.records import (
    AuditRecord,
    Delivery,
    QueueStats,
    audit_rows,
    delivery_from_row,
)
from hooks.storage.tables import UTCDateTime, audit, deliveries

AUDIT_INSERT = audit.insert()  # built once: run for every delivery


def insert_audit(
    conn: Connection,
    records: Sequence[AuditRecord],
    now: datetime,
    delivery_id: int | None = None,
    run_key: str | None = None,
) -> None:
    """Append audit lines inside the caller's transaction."""
    if records:
        conn.execute(AUDIT_INSERT, audit_rows(records, now, delivery_id, run_key))


class Audit:
    """Audit lines written and read; deliveries and queue depth as the dashboard reads them."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def add(
        self, records: Sequence[AuditRecord], now: datetime, *, run_key: str | None = None
    ) -> None:
        """Append audit lines that belong to no delivery (scheduled runs, reconciliation)."""
        await self.db.transact(lambda conn: insert_audit(conn, records, now, run_key=run_key))

    async def audit_for(
        self, *, delivery_id: int | None = None, subject: str | None = None, limit: int = 500
    ) -> list[dict[str, Any]]:
        """The audit lines of one delivery, or of one subject (`path#iid`), oldest first."""
        a = audit.c
        query = select(audit).order_by(a.id).limit(limit)
        if delivery_id is not None:
            query = query.where(a.delivery_id == delivery_id)
        if subject is not None:
            query = query.where(a.subject == subject)
        async with self.db.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [{**row._asdict(), "detail": json.loads(row.detail)} for row in rows]

    async def last_matches(self) -> dict[str, datetime]:
        """When each rule last matched, by rule name, from the audit trail."""
        a = audit.c
        query = (
            select(a.rule, func.max(a.created_at, type_=UTCDateTime()))
            .where((a.kind == "rule") & (a.outcome == "matched"))
            .group_by(a.rule)
        )
        async with self.db.engine.connect() as conn:
            return {rule: when for rule, when in (await conn.execute(query)).all()}

    async def get_delivery(self, delivery_id: int) -> Delivery | None:
        async with self.db.engine.connect() as conn:
            row = (
                await conn.execute(select(deliveries).where(deliveries.c.id == delivery_id))
            ).first()
        return delivery_from_row(row) if row else None

    async def list_deliveries(
        self,
        *,
        status: str | None = None,
        kind: str | None = None,
        project: str | None = None,
        limit: int = 50,
        before_id: int | None = None,
    ) -> list[Delivery]:
        """Newest first, optionally filtered."""
        d = deliveries.c
        query = select(deliveries).order_by(d.id.desc()).limit(limit)
        if status:
            query = query.where(d.status == status)
        if kind:
            query = query.where(d.kind == kind)
        if project:
            query = query.where(d.project == project)
        if before_id:
            query = query.where(d.id < before_id)
        async with self.db.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [delivery_from_row(row) for row in rows]

    async def stats(self, now: datetime) -> QueueStats:
        """Queue depth by status and the age of the oldest pending delivery."""
        d = deliveries.c
        async with self.db.engine.connect() as conn:
            rows = await conn.execute(
                select(d.status, func.count())
                .where(d.status.in_(["pending", "processing", "failed"]))
                .group_by(d.status)
            )
            counts: dict[str, int] = {status: count for status, count in rows}
            oldest = (
                await conn.execute(select(func.min(d.received_at)).where(d.status == "pending"))
            ).scalar_one_or_none()
        if isinstance(oldest, str):  # SQLite returns min() of a TypeDecorator column raw
            oldest = datetime.fromisoformat(oldest).replace(tzinfo=UTC)
        age = (now - oldest).total_seconds() if oldest else 0.0
        return QueueStats(
            pending=counts.get("pending", 0),
            processing=counts.get("processing", 0),
            failed=counts.get("failed", 0),
            oldest_pending_age_s=max(age, 0.0),
        )
