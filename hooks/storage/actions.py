"""The actions ledger: each planned action's idempotency key, recorded before and after acting.

The unique key makes a second attempt at the same action see the first: a finished action
is skipped, an unfinished one (the process died mid-way) is resumed by whoever holds its
lease, and the executor then looks for the hidden marker before creating anything again.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Connection, bindparam, func, select, update

from hooks.storage.engine import dialect_insert
from hooks.storage.store import Store
from hooks.storage.tables import actions

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


@dataclass(frozen=True)
class ClaimRequest:
    key: str
    rule: str
    action: str
    subject: str | None
    params: dict[str, Any]
    delivery_id: int | None
    run_key: str | None


@dataclass(frozen=True)
class Finish:
    key: str
    status: str
    now: datetime
    result: dict[str, Any] | None = None
    error: str | None = None


def _chunks(items: list[Any], size: int) -> list[list[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


# Statements run for every plan, built once (building one costs about as much CPU as
# the SQLite transaction that runs it).
_RECENT_WRITES = (
    select(actions.c.subject, func.count())
    .where(
        actions.c.subject.in_(bindparam("b_subjects", expanding=True))
        & (actions.c.status == "done")
        & (actions.c.updated_at >= bindparam("b_since"))
    )
    .group_by(actions.c.subject)
)
_FINISH = (
    update(actions)
    .where((actions.c.key == bindparam("k")) & (actions.c.owner == bindparam("o")))
    .values(
        status=bindparam("s"),
        result=bindparam("r"),
        error=bindparam("e"),
        owner=None,
        lease_expires_at=None,
        updated_at=bindparam("t"),
    )
)


@functools.cache
def _claim_insert(dialect: str) -> Any:
    insert = dialect_insert(dialect)
    return insert(actions).on_conflict_do_nothing(index_elements=["key"]).returning(actions.c.key)


class ActionLog:
    """Reads and writes of the `actions` table."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def claim_many(
        self,
        requests: list[ClaimRequest],
        *,
        owner: str,
        lease: timedelta,
        now: datetime,
        recent_since: datetime,
    ) -> dict[str, tuple[Claim, ActionRow | None, int]]:
        """Take the right to perform each action of a plan, in one transaction.

        Per key: "new", first time; "resume", tried before and not finished (look for its
        marker); "finished", done already (the row says how); "busy", another run is on it.
        With each, the writes to its subject since `recent_since` (the runaway-rule cap). A
        thousand-item roll-over is one INSERT, not a thousand; a key repeated is claimed once.
        """
        a = actions.c
        unique = list({r.key: r for r in requests}.values())
        subjects = sorted({r.subject for r in unique if r.subject})

        def write(conn: Connection) -> dict[str, tuple[Claim, ActionRow | None, int]]:
            result: dict[str, tuple[Claim, ActionRow | None, int]] = {}
            recent: dict[str, int] = {}
            for chunk in _chunks(subjects, 500):
                rows = conn.execute(_RECENT_WRITES, {"b_subjects": chunk, "b_since": recent_since})
                recent.update({row[0]: int(row[1]) for row in rows})
            inserted: set[str] = set()
            # Executed with many parameter sets, the statement is compiled once and cached.
            stmt = _claim_insert(self.store.dialect)
            for chunk in _chunks(unique, 200):
                values = [
                    {
                        "key": r.key,
                        "rule": r.rule,
                        "action": r.action,
                        "subject": r.subject,
                        "params": json.dumps(r.params, sort_keys=True, default=str),
                        "status": "started",
                        "attempts": 1,
                        "owner": owner,
                        "lease_expires_at": now + lease,
                        "delivery_id": r.delivery_id,
                        "run_key": r.run_key,
                        "created_at": now,
                        "updated_at": now,
                    }
                    for r in chunk
                ]
                inserted.update(k for (k,) in conn.execute(stmt, values).all())
            for r in unique:
                count = recent.get(r.subject or "", 0)
                if r.key in inserted:
                    result[r.key] = ("new", None, count)
                    continue
                taken = conn.execute(
                    update(actions)
                    .where(
                        (a.key == r.key)
                        & a.status.not_in(FINAL)
                        & (
                            (a.status != "started")
                            | (a.owner == owner)
                            | (a.lease_expires_at <= now)
                        )
                    )
                    .values(
                        status="started",
                        owner=owner,
                        lease_expires_at=now + lease,
                        attempts=a.attempts + 1,
                        updated_at=now,
                    )
                )
                current = _row(conn.execute(select(actions).where(a.key == r.key)).one())
                if taken.rowcount == 1:
                    result[r.key] = ("resume", current, count)
                else:
                    state: Claim = "finished" if current.status in FINAL else "busy"
                    result[r.key] = (state, current, count)
            return result

        return await self.store.transact(write)

    async def finish_many(self, outcomes: list[Finish], owner: str) -> None:
        """Record several actions' outcomes in one transaction, where `owner` still holds them."""
        if not outcomes:
            return
        rows = [
            {
                "k": f.key,
                "s": f.status,
                "r": json.dumps(f.result, sort_keys=True, default=str) if f.result else None,
                "e": f.error,
                "t": f.now,
                "o": owner,
            }
            for f in outcomes
        ]
        await self.store.transact(lambda conn: conn.execute(_FINISH, rows))

    async def extend(self, keys: list[str], owner: str, until: datetime) -> None:
        """Keep the leases of the actions `owner` is still performing."""
        a = actions.c

        def write(conn: Connection) -> None:
            for chunk in _chunks(keys, 500):
                conn.execute(
                    update(actions)
                    .where(a.key.in_(chunk) & (a.owner == owner) & (a.status == "started"))
                    .values(lease_expires_at=until)
                )

        await self.store.transact(write)

    async def for_delivery(self, delivery_id: int) -> list[ActionRow]:
        return await self._select(actions.c.delivery_id == delivery_id)

    async def for_subject(self, subject: str) -> list[ActionRow]:
        return await self._select(actions.c.subject == subject)

    async def of_kinds(self, kinds: Sequence[str], since: datetime) -> list[ActionRow]:
        """Actions of these kinds last updated since `since` (the dashboard's sprint health)."""
        a = actions.c
        return await self._select(a.action.in_(list(kinds)) & (a.updated_at >= since))

    async def get(self, key: str) -> ActionRow | None:
        found = await self._select(actions.c.key == key)
        return found[0] if found else None

    async def _select(self, where: Any) -> list[ActionRow]:
        async with self.store.engine.connect() as conn:
            rows = (await conn.execute(select(actions).where(where).order_by(actions.c.id))).all()
        return [_row(r) for r in rows]
