"""`Store`, the entry point to the service's own state, and opening it for a command.

A facade: `store.inbox` (deliveries), `store.audit` (audit trail, dashboard reads) and
`store.transact` (the one write path, which the action ledger, the run ledger and the
watchdog's tables use too) are the parts; the methods below only delegate, so callers keep
reading `store.claim(...)`, `store.finish(...)`, `store.stats(...)`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from hooks.storage.audit import Audit
from hooks.storage.database import Database
from hooks.storage.engine import check_sqlite_file, create_engine_for, database_unusable
from hooks.storage.inbox import Inbox
from hooks.storage.migrations import migrate
from hooks.storage.records import AuditRecord, Delivery, NewDelivery, QueueStats

T = TypeVar("T")


class Store:
    """Every read and write of the service's own state goes through here."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.db = Database(engine)
        self.engine = engine
        self.dialect = self.db.dialect
        self.inbox = Inbox(self.db)
        self.audit = Audit(self.db)

    @classmethod
    def open(cls, url: str) -> Store:
        """Create the engine for a `sqlite:///` or `postgresql://` URL (nothing connects yet)."""
        return cls(create_engine_for(url))

    async def close(self) -> None:
        await self.db.close()

    async def migrate(self) -> None:
        """Apply every Alembic migration not yet applied."""
        await migrate(self.db)

    async def transact(self, work: Callable[[Connection], T]) -> T:
        """Run `work` in a transaction (see `Database.transact`): every write goes here."""
        return await self.db.transact(work)

    async def ping(self) -> None:
        await self.db.ping()

    # -- inbox ----------------------------------------------------------------

    async def add_delivery(self, new: NewDelivery) -> tuple[int, bool]:
        return await self.inbox.add_delivery(new)

    async def claim(
        self, owner: str, limit: int, lease: timedelta, now: datetime
    ) -> list[Delivery]:
        return await self.inbox.claim(owner, limit, lease, now)

    async def extend_lease(self, ids: Sequence[int], owner: str, until: datetime) -> None:
        await self.inbox.extend_lease(ids, owner, until)

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
        return await self.inbox.finish(
            delivery_id, owner, status=status, now=now, records=records, error=error
        )

    async def retry_later(
        self, delivery_id: int, owner: str, *, at: datetime, error: str, now: datetime
    ) -> bool:
        return await self.inbox.retry_later(delivery_id, owner, at=at, error=error, now=now)

    async def release(self, ids: Sequence[int], owner: str) -> None:
        await self.inbox.release(ids, owner)

    async def replay(self, delivery_id: int, now: datetime) -> bool:
        return await self.inbox.replay(delivery_id, now)

    # -- audit and queries ----------------------------------------------------

    async def add_audit(
        self, records: Sequence[AuditRecord], now: datetime, *, run_key: str | None = None
    ) -> None:
        await self.audit.add(records, now, run_key=run_key)

    async def get_delivery(self, delivery_id: int) -> Delivery | None:
        return await self.audit.get_delivery(delivery_id)

    async def list_deliveries(
        self,
        *,
        status: str | None = None,
        kind: str | None = None,
        project: str | None = None,
        limit: int = 50,
        before_id: int | None = None,
    ) -> list[Delivery]:
        return await self.audit.list_deliveries(
            status=status, kind=kind, project=project, limit=limit, before_id=before_id
        )

    async def audit_for(
        self, *, delivery_id: int | None = None, subject: str | None = None, limit: int = 500
    ) -> list[dict[str, Any]]:
        return await self.audit.audit_for(delivery_id=delivery_id, subject=subject, limit=limit)

    async def last_matches(self) -> dict[str, datetime]:
        return await self.audit.last_matches()

    async def stats(self, now: datetime) -> QueueStats:
        return await self.audit.stats(now)


def open_store(url: str) -> Store:
    """The store at HOOKS_DATABASE_URL; a SQLite file that cannot be opened is said at once."""
    try:
        store = Store.open(url)
        check_sqlite_file(url)
    except (OSError, sqlite3.Error) as exc:  # e.g. a read-only or missing ./var
        raise database_unusable(exc) from exc
    return store
