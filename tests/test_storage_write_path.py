"""One write path: only `hooks.storage.database` opens a write transaction (its `transact`),
and only `hooks.storage.sqlite_batch` reaches into aiosqlite's private API."""

from __future__ import annotations

import re
from pathlib import Path

import hooks

PACKAGE = Path(hooks.__file__).parent
# Migrations commit on their own connection: Alembic's transaction under PostgreSQL's
# advisory lock, which must be held on that same connection.
OPENS_TRANSACTIONS = {"storage/database.py", "storage/sqlite_batch.py", "storage/migrations.py"}


def sources() -> dict[str, str]:
    return {p.relative_to(PACKAGE).as_posix(): p.read_text() for p in PACKAGE.rglob("*.py")}


def test_writes_go_through_transact() -> None:
    begins = re.compile(r"\.begin\(\)|\.commit\(\)|begin_nested\(")
    found = sorted(
        path
        for path, text in sources().items()
        if begins.search(text) and path not in OPENS_TRANSACTIONS and "testing/" not in path
    )
    assert found == [], f"transactions opened outside hooks.storage.database.transact: {found}"


def test_only_sqlite_batch_uses_aiosqlite_private_api() -> None:
    # The aiosqlite connection is reached through SQLAlchemy's `driver_connection`.
    private = re.compile(r"driver_connection|\._conn\b|import aiosqlite|from aiosqlite")
    found = sorted(path for path, text in sources().items() if private.search(text))
    assert found == ["storage/sqlite_batch.py"], found
