"""What SQLite group commit relies on in aiosqlite's private API, checked against the version
installed: if one of these fails after an aiosqlite upgrade, `hooks.storage.sqlite_batch` must
change with it (pyproject pins aiosqlite to the versions checked here)."""

from __future__ import annotations

import asyncio
import inspect
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiosqlite
import pytest
from sqlalchemy import Connection, text

from hooks.storage.sqlite_batch import run_in_driver_thread, sync_engine
from hooks.storage.store import Store


@pytest.fixture
async def store(sqlite_url: str) -> AsyncIterator[Store]:
    opened = Store.open(sqlite_url)
    await opened.migrate()
    yield opened
    await opened.close()


def test_aiosqlite_connection_still_has_execute_and_conn() -> None:
    execute = getattr(aiosqlite.Connection, "_execute", None)
    assert execute is not None, "aiosqlite.Connection._execute is gone"
    assert inspect.iscoroutinefunction(execute), "aiosqlite.Connection._execute is not async"
    params = list(inspect.signature(execute).parameters.values())
    assert [p.name for p in params[:2]] == ["self", "fn"]
    assert inspect.Parameter.VAR_POSITIONAL in [p.kind for p in params], "no *args any more"


async def test_execute_runs_in_the_thread_that_owns_the_sqlite3_connection(
    tmp_path: Path,
) -> None:
    async with aiosqlite.connect(tmp_path / "x.db") as driver:
        raw = driver._conn
        assert isinstance(raw, sqlite3.Connection), "aiosqlite.Connection._conn changed type"

        def in_thread(a: int, b: int) -> tuple[int, int, str]:
            # sqlite3 refuses a connection used outside its thread (check_same_thread).
            (one,) = raw.execute("SELECT 1").fetchone()
            return a + b, one, threading.current_thread().name

        total, one, name = await driver._execute(in_thread, 2, 3)
        assert (total, one) == (5, 1)
        assert name != threading.current_thread().name


async def test_the_pool_hands_out_aiosqlite_connections(store: Store) -> None:
    async with store.engine.connect() as conn:
        driver = (await conn.get_raw_connection()).driver_connection
        assert isinstance(driver, aiosqlite.Connection)

        def count(engine_conn: Connection) -> int:
            return int(engine_conn.execute(text("SELECT count(*) FROM deliveries")).scalar_one())

        def run() -> int:
            with sync_engine(driver).begin() as sync_conn:
                return count(sync_conn)

        assert await run_in_driver_thread(driver, run) == 0


async def test_concurrent_transactions_commit_together_and_a_failure_stays_its_own(
    store: Store,
) -> None:
    await store.transact(lambda c: c.execute(text("CREATE TABLE t (v INTEGER UNIQUE)")))

    def insert(v: int) -> Callable[[Connection], int]:
        return lambda c: c.execute(text("INSERT INTO t (v) VALUES (:v)"), {"v": v}).rowcount

    outcomes = await asyncio.gather(
        *(store.transact(insert(v)) for v in (1, 2, 2, 3)),
        return_exceptions=True,
    )
    assert outcomes[0] == outcomes[1] == outcomes[3] == 1
    assert isinstance(outcomes[2], Exception)  # the duplicate fails its own caller only
    rows = await store.transact(lambda c: c.execute(text("SELECT v FROM t ORDER BY v")).all())
    assert [v for (v,) in rows] == [1, 2, 3]
