"""Reads and writes of the watchdog's and the reconciler's tables, and delivery coverage.

A change of an issue or milestone is *covered* when a stored delivery for the same subject
carries an `updated_at` at or after the change's, or the reconciler already handled it (or
made it itself). Webhook payloads carry whole seconds ('2026-11-24 10:00:00 UTC') where the
REST API carries milliseconds, so both are compared at whole seconds.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update

from hooks.events import EventParseError, IssueEvent, MilestoneEvent, parse_event
from hooks.storage.engine import dialect_insert
from hooks.storage.store import Store
from hooks.storage.tables import (
    deliveries,
    reconcile_cursors,
    reconciled_changes,
    watched_hooks,
)


@dataclass(frozen=True)
class WatchedHook:
    """A webhook the service watches, with what the watchdog last read of it."""

    id: int
    scope: str
    scope_kind: str | None
    hook_id: int
    url: str | None
    registered_at: datetime
    alert_status: str | None
    disabled_until: datetime | None
    recent_failures: int | None
    checked_at: datetime | None
    silent_since: datetime | None
    reenabled_at: datetime | None
    detail: str | None

    @property
    def name(self) -> str:
        return f"{self.scope}:{self.hook_id}"

    def disabled(self, now: datetime) -> bool:
        """GitLab drops events for this hook now (as last read)."""
        if self.alert_status in ("temporarily_disabled", "permanently_disabled", "disabled"):
            return self.disabled_until is None or self.disabled_until > now
        return self.disabled_until is not None and self.disabled_until > now

    def as_dict(self) -> dict[str, Any]:
        """The dashboard's and `/readyz`'s view (no secrets are stored here)."""
        return {
            "scope": self.scope,
            "scope_kind": self.scope_kind,
            "hook_id": self.hook_id,
            "url": self.url,
            "registered_at": _iso(self.registered_at),
            "alert_status": self.alert_status,
            "disabled_until": _iso(self.disabled_until),
            "recent_failures": self.recent_failures,
            "checked_at": _iso(self.checked_at),
            "silent_since": _iso(self.silent_since),
            "reenabled_at": _iso(self.reenabled_at),
            "detail": self.detail,
        }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def whole_seconds(moment: datetime) -> datetime:
    return moment.replace(microsecond=0)


def covers(seen: datetime | None, changed_at: datetime) -> bool:
    """True when what was seen of a subject is at or after the change (whole seconds)."""
    return seen is not None and whole_seconds(seen) >= whole_seconds(changed_at)


def issue_subject(project: str, iid: int) -> str:
    return f"{project}#{iid}"


def milestone_subject(milestone_id: int) -> str:
    # Group milestones reach hooks under several projects: the id names them across all.
    return f"milestone:{milestone_id}"


def _in_scope(column: Any, scope: str) -> Any:
    return (column == scope) | column.like(scope.replace("%", r"\%") + "/%", escape="\\")


class WatchStore:
    """The watchdog's and the reconciler's state in the service database."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def _insert(self) -> Any:
        return dialect_insert(self.store.dialect)

    # -- watched hooks ------------------------------------------------------------

    async def record_hook(
        self, scope: str, hook_id: int, now: datetime, *, kind: str | None, url: str | None
    ) -> None:
        """Watch this hook from now on (idempotent; a known hook keeps its status)."""
        stmt = self._insert()(watched_hooks).values(
            scope=scope, scope_kind=kind, hook_id=hook_id, url=url, registered_at=now
        )
        values = {"url": stmt.excluded.url} if url else {}
        if kind:
            values["scope_kind"] = stmt.excluded.scope_kind
        stmt = (
            stmt.on_conflict_do_update(index_elements=["scope", "hook_id"], set_=values)
            if values
            else stmt.on_conflict_do_nothing(index_elements=["scope", "hook_id"])
        )
        await self.store.transact(lambda conn: conn.execute(stmt))

    async def hooks(self) -> list[WatchedHook]:
        async with self.store.engine.connect() as conn:
            rows = (await conn.execute(select(watched_hooks).order_by(watched_hooks.c.id))).all()
        return [WatchedHook(**r._asdict()) for r in rows]

    async def update_hook(self, row_id: int, **values: Any) -> None:
        stmt = update(watched_hooks).where(watched_hooks.c.id == row_id).values(**values)
        await self.store.transact(lambda conn: conn.execute(stmt))

    # -- cursors --------------------------------------------------------------------

    async def cursor(self, scope: str, kind: str) -> datetime | None:
        c = reconcile_cursors.c
        async with self.store.engine.connect() as conn:
            value: datetime | None = (
                await conn.execute(
                    select(c.updated_after).where((c.scope == scope) & (c.kind == kind))
                )
            ).scalar_one_or_none()
        return value

    async def advance(self, scope: str, kind: str, to: datetime, now: datetime) -> None:
        """Move the cursor forward to `to` (never back: a `--since` re-run keeps it)."""
        stmt = self._insert()(reconcile_cursors).values(
            scope=scope, kind=kind, updated_after=to, updated_at=now
        )
        c = reconcile_cursors.c
        stmt = stmt.on_conflict_do_update(
            index_elements=["scope", "kind"],
            set_={"updated_after": stmt.excluded.updated_after, "updated_at": now},
            where=c.updated_after < stmt.excluded.updated_after,
        )
        await self.store.transact(lambda conn: conn.execute(stmt))

    # -- coverage -------------------------------------------------------------------

    async def last_delivery_at(self, scope: str) -> datetime | None:
        """When the last delivery for a project of this scope was received."""
        d = deliveries.c
        async with self.store.engine.connect() as conn:
            # max() keeps the column's UTCDateTime type: aware UTC on both engines.
            value: datetime | None = (
                await conn.execute(
                    select(func.max(d.received_at)).where(_in_scope(d.project, scope))
                )
            ).scalar_one_or_none()
        return value

    async def coverage(self, scope: str, received_since: datetime) -> dict[str, datetime]:
        """Per subject, the latest `updated_at` seen in deliveries received since then."""
        d = deliveries.c
        query = select(d.event_header, d.body).where(
            _in_scope(d.project, scope) & (d.received_at >= received_since)
        )
        seen: dict[str, datetime] = {}
        async with self.store.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        for header, body in rows:
            try:
                event = parse_event(header, bytes(body))
            except EventParseError:
                continue
            subject, at = None, None
            if isinstance(event, IssueEvent) and event.object_attributes.iid is not None:
                subject = issue_subject(event.project_path, event.object_attributes.iid)
                at = event.object_attributes.updated_at
            elif isinstance(event, MilestoneEvent) and event.object_attributes.id is not None:
                subject = milestone_subject(event.object_attributes.id)
                at = event.object_attributes.updated_at
            if subject and at and (subject not in seen or seen[subject] < at):
                seen[subject] = at
        return seen

    async def reconciled(self, subjects: Iterable[str]) -> dict[str, datetime]:
        """Per subject, the latest change the reconciler handled or made."""
        wanted = sorted(set(subjects))
        if not wanted:
            return {}
        r = reconciled_changes.c
        found: dict[str, datetime] = {}
        async with self.store.engine.connect() as conn:
            for start in range(0, len(wanted), 500):
                rows = await conn.execute(
                    select(r.subject, func.max(r.changed_at))
                    .where(r.subject.in_(wanted[start : start + 500]))
                    .group_by(r.subject)
                )
                found.update((subject, at) for subject, at in rows)
        return found

    async def mark_reconciled(
        self, changes: list[tuple[str, datetime, str]], now: datetime
    ) -> None:
        """Record (subject, changed_at, outcome) rows; known ones are left as they are."""
        if not changes:
            return
        stmt = (
            self._insert()(reconciled_changes)
            .values(
                [
                    {"subject": s, "changed_at": at, "outcome": o, "created_at": now}
                    for s, at, o in changes
                ]
            )
            .on_conflict_do_nothing(index_elements=["subject", "changed_at"])
        )
        await self.store.transact(lambda conn: conn.execute(stmt))


# A first sweep starts this long before the last delivery seen: what was dropped just before it.
SLACK = timedelta(hours=1)
# A delivery is received after the change it carries, give or take the clocks' difference.
CLOCK_SKEW = timedelta(minutes=5)
