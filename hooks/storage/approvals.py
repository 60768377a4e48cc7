"""Approval requests: opened once per planned run, decided once, carried out under a lease.

Every change of status is a guarded UPDATE (`WHERE status = ...`), so two approvals arriving
together (a label and the dashboard, two replicas) decide a request once; the actions of its
plan go through the action ledger as every other action does, so each is performed once.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, select, update

from hooks.storage.engine import dialect_insert
from hooks.storage.store import Store
from hooks.storage.tables import actions, approvals

OPEN = ("pending", "approved")  # requests whose actions nobody else may start
FINAL_ACTIONS = ("done", "satisfied")


@dataclass(frozen=True)
class ApprovalRow:
    id: int
    key: str
    rule: str
    source: str
    project: str
    issue_iid: int | None
    issue_url: str | None
    status: str
    items: int
    plan: dict[str, Any]
    outcome: list[dict[str, Any]] | None
    created_at: datetime
    expires_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    finished_at: datetime | None
    note: str | None

    @property
    def issue_ref(self) -> str | None:
        return f"{self.project}#{self.issue_iid}" if self.issue_iid is not None else None


def _row(row: Any) -> ApprovalRow:
    return ApprovalRow(
        id=int(row.id),
        key=row.key,
        rule=row.rule,
        source=row.source,
        project=row.project,
        issue_iid=row.issue_iid,
        issue_url=row.issue_url,
        status=row.status,
        items=row.items,
        plan=json.loads(row.plan),
        outcome=json.loads(row.outcome) if row.outcome else None,
        created_at=row.created_at,
        expires_at=row.expires_at,
        decided_by=row.decided_by,
        decided_at=row.decided_at,
        finished_at=row.finished_at,
        note=row.note,
    )


@dataclass(frozen=True)
class NewApproval:
    key: str
    rule: str
    source: str
    project: str
    items: int
    plan: dict[str, Any]
    created_at: datetime
    expires_at: datetime


class ApprovalStore:
    """Reads and writes of the `approvals` table (and the ledger reads the guard needs)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def open(self, new: NewApproval) -> tuple[ApprovalRow, bool]:
        """The request for this key: (it, True) when this call opened it."""
        insert = dialect_insert(self.store.dialect)
        values = {
            "key": new.key,
            "rule": new.rule,
            "source": new.source[:400],
            "project": new.project,
            "status": "pending",
            "items": new.items,
            "plan": json.dumps(new.plan, sort_keys=True, default=str),
            "created_at": new.created_at,
            "expires_at": new.expires_at,
        }

        def write(conn: Connection) -> tuple[ApprovalRow, bool]:
            stmt = insert(approvals).values(values).on_conflict_do_nothing(index_elements=["key"])
            created = conn.execute(stmt).rowcount == 1
            row = conn.execute(select(approvals).where(approvals.c.key == new.key)).one()
            return _row(row), created

        return await self.store.transact(write)

    async def set_issue(self, approval_id: int, iid: int, url: str | None) -> None:
        await self._update(approval_id, None, issue_iid=iid, issue_url=url)

    async def set_note(self, approval_id: int, note: str) -> None:
        await self._update(approval_id, None, note=note)

    async def approve(self, approval_id: int, by: str, now: datetime) -> bool:
        """pending -> approved, unless it expired; False when it was not pending any more."""
        a = approvals.c

        def write(conn: Connection) -> bool:
            done = conn.execute(
                update(approvals)
                .where((a.id == approval_id) & (a.status == "pending") & (a.expires_at > now))
                .values(status="approved", decided_by=by[:200], decided_at=now)
            )
            return bool(done.rowcount == 1)

        return await self.store.transact(write)

    async def claim(self, approval_id: int, owner: str, now: datetime, lease: timedelta) -> bool:
        """The right to carry an approved request out (a crashed carrier's lease lapses)."""
        a = approvals.c

        def write(conn: Connection) -> bool:
            done = conn.execute(
                update(approvals)
                .where(
                    (a.id == approval_id)
                    & (a.status == "approved")
                    & (a.owner.is_(None) | (a.owner == owner) | (a.lease_expires_at <= now))
                )
                .values(owner=owner, lease_expires_at=now + lease)
            )
            return bool(done.rowcount == 1)

        return await self.store.transact(write)

    async def finish(
        self, approval_id: int, owner: str, outcome: list[dict[str, Any]], now: datetime
    ) -> None:
        a = approvals.c
        await self.store.transact(
            lambda conn: conn.execute(
                update(approvals)
                .where((a.id == approval_id) & (a.owner == owner) & (a.status == "approved"))
                .values(
                    status="done",
                    outcome=json.dumps(outcome, sort_keys=True, default=str),
                    finished_at=now,
                    owner=None,
                    lease_expires_at=None,
                )
            )
        )

    async def expire(self, approval_id: int, now: datetime, note: str) -> bool:
        """pending -> expired; False when someone approved it first."""
        a = approvals.c

        def write(conn: Connection) -> bool:
            done = conn.execute(
                update(approvals)
                .where((a.id == approval_id) & (a.status == "pending"))
                .values(status="expired", finished_at=now, note=note)
            )
            return bool(done.rowcount == 1)

        return await self.store.transact(write)

    async def _update(self, approval_id: int, status: str | None, **values: Any) -> None:
        where = approvals.c.id == approval_id
        if status is not None:
            where = where & (approvals.c.status == status)
        await self.store.transact(
            lambda conn: conn.execute(update(approvals).where(where).values(**values))
        )

    # -- reads ----------------------------------------------------------------

    async def get(self, approval_id: int) -> ApprovalRow | None:
        found = await self._select(approvals.c.id == approval_id)
        return found[0] if found else None

    async def by_issue(self, refs: Sequence[str], iid: int) -> ApprovalRow | None:
        """The request whose issue is `iid` in the project named by any of `refs` (path, id)."""
        a = approvals.c
        found = await self._select(a.project.in_(list(refs)) & (a.issue_iid == iid))
        return found[0] if found else None

    async def recent(self, limit: int = 100) -> list[ApprovalRow]:
        return await self._select(None, limit=limit, newest_first=True)

    async def with_status(self, statuses: Sequence[str]) -> list[ApprovalRow]:
        return await self._select(approvals.c.status.in_(list(statuses)))

    async def awaiting(self) -> dict[str, int]:
        """Action key -> id of the open request that holds it (pending or approved)."""
        held: dict[str, int] = {}
        for row in await self.with_status(OPEN):
            held.update({a["key"]: row.id for a in row.plan.get("actions", [])})
        return held

    async def final_keys(self, keys: Sequence[str]) -> set[str]:
        """The keys the action ledger has already finished (done, satisfied)."""
        found: set[str] = set()
        wanted = list(dict.fromkeys(keys))
        async with self.store.engine.connect() as conn:
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                rows = await conn.execute(
                    select(actions.c.key).where(
                        actions.c.key.in_(chunk) & actions.c.status.in_(FINAL_ACTIONS)
                    )
                )
                found.update(k for (k,) in rows)
        return found

    async def items_done_since(self, rules: Sequence[str], since: datetime) -> dict[str, int]:
        """Per rule, the subjects written to since `since` (the `per_hour` limit)."""
        if not rules:
            return {}
        a = actions.c
        query = (
            select(a.rule, func.count(a.subject.distinct()))
            .where(a.rule.in_(list(rules)) & (a.status == "done") & (a.updated_at >= since))
            .group_by(a.rule)
        )
        async with self.store.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return {rule: int(count) for rule, count in rows}

    async def _select(
        self, where: Any, *, limit: int | None = None, newest_first: bool = False
    ) -> list[ApprovalRow]:
        query = select(approvals)
        if where is not None:
            query = query.where(where)
        query = query.order_by(approvals.c.id.desc() if newest_first else approvals.c.id)
        if limit is not None:
            query = query.limit(limit)
        async with self.store.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [_row(r) for r in rows]
