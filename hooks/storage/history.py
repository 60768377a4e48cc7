"""The recorded history a rule change is previewed on: deliveries received in a window."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from hooks.storage.database import Database
from hooks.storage.tables import actions, audit, deliveries


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


@dataclass(frozen=True)
class BotEdit:
    """A move or label change the bot carried out (the action ledger's `done` rows)."""

    subject: str
    action: str
    params: dict[str, Any]
    run: str  # the delivery or scheduled run that made it


async def bot_edits_since(db: Database, start: datetime) -> list[BotEdit]:
    """The bot's milestone moves and label changes recorded since `start` (read-only)."""
    c = actions.c
    query = (
        select(c.subject, c.action, c.params, c.delivery_id, c.run_key)
        .where(c.action.in_(["move_to_milestone", "add_labels", "remove_labels"]))
        .where((c.status == "done") & (c.created_at >= start) & c.subject.is_not(None))
        .order_by(c.id)
    )
    async with db.engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    return [
        BotEdit(
            r.subject,
            r.action,
            json.loads(r.params),
            f"delivery {r.delivery_id}" if r.delivery_id is not None else str(r.run_key),
        )
        for r in rows
    ]
