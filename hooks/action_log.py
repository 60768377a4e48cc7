"""The actions ledger: each planned action's idempotency key, recorded before and after acting.

The unique key makes a second attempt at the same action see the first: a finished action
is skipped, an unfinished one (the process died mid-way) is resumed by whoever holds its
lease, and the executor then looks for the hidden marker before creating anything again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from hooks.schema import actions
from hooks.store import Store

# Outcomes after which the action is never performed again for the same key.
FINAL = ("done", "satisfied")

Claim = Literal["new", "resume", "finished", "busy"]


@dataclass(frozen=True)
class ActionRow:
    key: str
    rule: str
    action: str
    subject: str | None
    params: dict[str, Any]
    status: str
    attempts: int
    result: dict[str, Any] | None
    error: str | None
    delivery_id: int | None
    run_key: str | None
    created_at: datetime
    updated_at: datetime


def _row(row: Any) -> ActionRow:
    return ActionRow(
        key=row.key,
        rule=row.rule,
        action=row.action,
        subject=row.subject,
        params=json.loads(row.params),
        status=row.status,
        attempts=row.attempts,
        result=json.loads(row.result) if row.result else None,
        error=row.error,
        delivery_id=row.delivery_id,
        run_key=row.run_key,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


class ActionLog:
    """Reads and writes of the `actions` table."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def claim(
        self,
        *,
        key: str,
        rule: str,
        action: str,
        subject: str | None,
        params: dict[str, Any],
        delivery_id: int | None,
        run_key: str | None,
        owner: str,
        lease: timedelta,
        now: datetime,
        recent_since: datetime | None = None,
    ) -> tuple[Claim, ActionRow | None, int]:
        """Take the right to perform the action with this key.

        "new": first time; "resume": tried before and not finished (look for its marker);
        "finished": done already (the row says how); "busy": another worker is on it.
        With `recent_since`, also count the writes to the subject since then (same round
        trip: the runaway-rule cap costs no extra query).
        """
        a = actions.c
        insert = postgresql.insert if self.store.dialect == "postgresql" else sqlite.insert
        values = {
            "key": key,
            "rule": rule,
            "action": action,
            "subject": subject,
            "params": json.dumps(params, sort_keys=True, default=str),
            "status": "started",
            "attempts": 1,
            "owner": owner,
            "lease_expires_at": now + lease,
            "delivery_id": delivery_id,
            "run_key": run_key,
            "created_at": now,
            "updated_at": now,
        }
        stmt = (
            insert(actions)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["key"])
            .returning(a.id)
        )
        async with self.store.engine.begin() as conn:
            recent = 0
            if recent_since is not None and subject is not None:
                recent = int(
                    (
                        await conn.execute(
                            select(func.count()).where(
                                (a.subject == subject)
                                & (a.status == "done")
                                & (a.updated_at >= recent_since)
                            )
                        )
                    ).scalar_one()
                )
            if (await conn.execute(stmt)).scalar_one_or_none() is not None:
                return "new", None, recent
            taken = await conn.execute(
                update(actions)
                .where(
                    (a.key == key)
                    & a.status.not_in(FINAL)
                    & ((a.status != "started") | (a.owner == owner) | (a.lease_expires_at <= now))
                )
                .values(
                    status="started",
                    owner=owner,
                    lease_expires_at=now + lease,
                    attempts=a.attempts + 1,
                    updated_at=now,
                )
            )
            row = (await conn.execute(select(actions).where(a.key == key))).one()
        current = _row(row)
        if taken.rowcount == 1:
            return "resume", current, recent
        return ("finished" if current.status in FINAL else "busy"), current, recent

    async def finish(
        self,
        key: str,
        *,
        status: str,
        now: datetime,
        result: dict[str, Any] | None = None,
        error: str | None = None,
    ) -> None:
        """Record how the action ended and give up its lease."""
        await self._update(
            key,
            status=status,
            result=json.dumps(result, sort_keys=True, default=str) if result else None,
            error=error,
            owner=None,
            lease_expires_at=None,
            updated_at=now,
        )

    async def release(self, key: str, *, error: str, now: datetime) -> None:
        """Give the action back unfinished (a transient error): the next attempt resumes it."""
        await self._update(
            key, status="retry", error=error, owner=None, lease_expires_at=None, updated_at=now
        )

    async def _update(self, key: str, **values: Any) -> None:
        async with self.store.engine.begin() as conn:
            await conn.execute(update(actions).where(actions.c.key == key).values(**values))

    async def done_since(self, subject: str, since: datetime) -> int:
        """How many writes were made to `subject` since `since` (the runaway-rule cap)."""
        a = actions.c
        stmt = select(func.count()).where(
            (a.subject == subject) & (a.status == "done") & (a.updated_at >= since)
        )
        async with self.store.engine.connect() as conn:
            return int((await conn.execute(stmt)).scalar_one())

    async def for_delivery(self, delivery_id: int) -> list[ActionRow]:
        return await self._select(actions.c.delivery_id == delivery_id)

    async def for_subject(self, subject: str) -> list[ActionRow]:
        return await self._select(actions.c.subject == subject)

    async def get(self, key: str) -> ActionRow | None:
        found = await self._select(actions.c.key == key)
        return found[0] if found else None

    async def _select(self, where: Any) -> list[ActionRow]:
        async with self.store.engine.connect() as conn:
            rows = (await conn.execute(select(actions).where(where).order_by(actions.c.id))).all()
        return [_row(r) for r in rows]
