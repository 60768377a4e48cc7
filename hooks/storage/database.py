"""The one write path: every write of the service's own state is a `Database.transact`."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncEngine

from hooks.storage.sqlite_batch import GroupCommit

T = TypeVar("T")


class Database:
    """An engine with its transaction helper; reads use `engine.connect()` directly."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        self._group = GroupCommit(engine) if self.dialect == "sqlite" else None

    async def transact(self, work: Callable[[Connection], T]) -> T:
        """Run `work` in a transaction, committed when it returns, rolled back if it raises.

        `work` is synchronous SQLAlchemy on a sync `Connection`. On SQLite, transactions
        asked for while one is being written are run together, in one trip to aiosqlite's
        thread and one commit (hooks.storage.sqlite_batch); each caller returns only once its
        own work is committed, and a failing transaction fails only its own caller. On
        PostgreSQL each is its own transaction on a pooled connection.
        """
        if self._group is not None:
            return await self._group.run(work)
        async with self.engine.begin() as conn:
            return await conn.run_sync(work)

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def reachable(self) -> bool:
        try:
            await self.ping()
        except Exception:
            return False
        return True

    async def close(self) -> None:
        if self._group is not None:  # callers cancelled: their work still lands
            await self._group.drain()
        await self.engine.dispose()
