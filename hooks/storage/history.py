"""The recorded history a rule change is previewed on: deliveries received in a window."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from hooks.storage.database import Database
from hooks.storage.tables import audit, deliveries


@dataclass(frozen=True)
class Recorded:
    """One stored delivery as a preview replays it: its header, body and when it came."""

    id: int
    event_header: str
    body: bytes
    received_at: datetime
    # The loop guard ignored it (the bot's own change): it triggered no rule then, nor now.
    own_event: bool


async def recorded_between(db: Database, start: datetime, end: datetime) -> list[Recorded]:
    """Deliveries received in [start, end], oldest first (read-only)."""
    d, a = deliveries.c, audit.c
    ignored = (
        select(a.delivery_id)
        .where((a.kind == "event") & (a.outcome == "ignored") & (a.delivery_id.is_not(None)))
        .where(a.created_at >= start)
    )
    query = (
        select(d.id, d.event_header, d.body, d.received_at)
        .where((d.received_at >= start) & (d.received_at <= end))
        .order_by(d.received_at, d.id)
    )
    async with db.engine.connect() as conn:
        own = {row[0] for row in (await conn.execute(ignored)).all()}
        rows = (await conn.execute(query)).all()
    return [Recorded(r.id, r.event_header, bytes(r.body), r.received_at, r.id in own) for r in rows]
