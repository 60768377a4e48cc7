"""SQLite group commit: whole transactions run together in aiosqlite's thread, one commit.

Statement by statement through aiosqlite it is four trips to its thread per statement and one
per commit, each waking that thread and then the event loop, and each commit waits for the
disk (2 ms here) while every other query waits for the one connection. Here, transactions
asked for while one batch is being written run together in one trip and one commit; each
caller returns only once its own work is committed, and a transaction that fails fails only
its own caller.

This is the ONLY module that uses aiosqlite's private API: `Connection._execute(fn, *args)`
(run `fn` in the connection's thread and await its result) and `Connection._conn` (the
`sqlite3.Connection` that thread owns). `tests/test_sqlite_batch.py` fails loudly if a new
aiosqlite changes either.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, StaticPool, create_engine
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

TRANSACTION_BATCH = 64  # SQLite transactions committed together at most
T = TypeVar("T")
Outcome = tuple[Any, Exception | None]
Work = Callable[[Connection], Any]


class GroupCommit:
    """Queues transactions for one SQLite engine and commits them in batches."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._queue: list[tuple[Work, asyncio.Future[Any]]] = []
        self._task: asyncio.Task[None] | None = None

    async def run(self, work: Callable[[Connection], T]) -> T:
        """Run `work` in a transaction of the next batch; its result once committed."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queue.append((work, future))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._write())
        result: T = await future
        return result

    async def drain(self) -> None:
        """Wait for the batches under way (callers cancelled: their work still lands)."""
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)

    async def _write(self) -> None:
        while self._queue:
            batch = self._queue[:TRANSACTION_BATCH]
            self._queue = self._queue[TRANSACTION_BATCH:]
            try:
                outcomes = await self._run_in_thread([work for work, _ in batch])
            except Exception as exc:  # no connection: every caller of the batch learns it
                outcomes = [(None, exc)] * len(batch)
            for (_, future), (result, error) in zip(batch, outcomes, strict=True):
                if future.done():  # its caller was cancelled; the work was done all the same
                    continue
                if error is None:
                    future.set_result(result)
                else:
                    future.set_exception(error)

    async def _run_in_thread(self, works: list[Work]) -> list[Outcome]:
        async with self.engine.connect() as conn:
            # Checked out, the pool's one connection is ours: nothing else can use it meanwhile.
            driver: Any = (await conn.get_raw_connection()).driver_connection
            outcomes: list[Outcome] = await run_in_driver_thread(
                driver, transactions, sync_engine(driver), works
            )
            if any(
                isinstance(error, DBAPIError) and error.connection_invalidated
                for _, error in outcomes
            ):
                await conn.invalidate()  # the sync side closed it: the pool must know
        return outcomes


async def run_in_driver_thread(driver: Any, fn: Callable[..., T], *args: Any) -> T:
    """Run `fn(*args)` in the thread of an aiosqlite connection (private API)."""
    result: T = await driver._execute(fn, *args)
    return result


# The synchronous engine over each aiosqlite connection's own sqlite3 connection, for the
# transactions run inside that connection's thread.
_SYNC_ENGINES: weakref.WeakKeyDictionary[Any, Engine] = weakref.WeakKeyDictionary()


def sync_engine(driver: Any) -> Engine:
    """A synchronous engine over the sqlite3 connection an aiosqlite connection wraps."""
    engine = _SYNC_ENGINES.get(driver)
    if engine is None:
        raw = driver._conn  # private API: the sqlite3.Connection of aiosqlite's thread
        # Same dialect family as aiosqlite's (it subclasses pysqlite): same SQL, same types.
        # No reset on return: every use ends in commit or rollback.
        engine = create_engine(
            "sqlite://", creator=lambda: raw, poolclass=StaticPool, pool_reset_on_return=None
        )
        _SYNC_ENGINES[driver] = engine
    return engine


def transactions(engine: Engine, works: list[Work]) -> list[Outcome]:
    """Run `works` in one transaction; if one of them fails, each alone (in the thread).

    Alone, a failure rolls back its own work only and reaches its own caller. A database
    that refuses every transaction (locked, unwritable) fails them all at once instead.
    """
    if len(works) > 1:
        try:
            with engine.begin() as conn:
                return [(work(conn), None) for work in works]
        except OperationalError as exc:
            return [(None, exc)] * len(works)
        except Exception:
            pass
    outcomes: list[Outcome] = []
    for work in works:
        try:
            with engine.begin() as conn:
                outcomes.append((work(conn), None))
        except Exception as exc:
            outcomes.append((None, exc))
    return outcomes
