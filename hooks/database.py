"""Opening the configured database for a command: the driver's reason, in one line, if not."""

from __future__ import annotations

import sqlite3

from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from hooks.store import Store


class DatabaseUnusable(Exception):
    """HOOKS_DATABASE_URL names a database this process cannot open or migrate."""


def database_unusable(exc: BaseException) -> DatabaseUnusable:
    """The driver's own reason the configured database cannot be used, in one line."""
    reason = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    return DatabaseUnusable(f"cannot use the database (HOOKS_DATABASE_URL): {reason}")


def open_store(url: str) -> Store:
    """The store at HOOKS_DATABASE_URL; a SQLite file that cannot be opened is said at once."""
    try:
        store = Store.open(url)
        path = make_url(url).database
        if store.dialect == "sqlite" and path and path != ":memory:":
            # Tried here, not first through aiosqlite: its worker thread outlives a failed
            # connection and prints a traceback of its own once the event loop is gone.
            sqlite3.connect(path).close()
    except (OSError, sqlite3.Error) as exc:  # e.g. a read-only or missing ./var
        raise database_unusable(exc) from exc
    return store
