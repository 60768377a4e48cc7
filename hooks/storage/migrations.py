"""Which migration the database is at, and bringing it to the newest (Alembic)."""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import Connection, inspect, text

from hooks.storage.database import Database

MIGRATIONS = Path(__file__).parent.parent / "migrations"
# Arbitrary but fixed: replicas starting together take turns migrating.
_MIGRATION_LOCK_ID = 0x686F6F6B73
_ASSIGNMENT = r'^{name}\s*(?::[^=\n]*)?=\s*(?:"([^"\n]+)"|None)\s*$'


async def migrate(db: Database) -> None:
    """Apply every Alembic migration not yet applied.

    Not a `Database.transact`: Alembic runs its own transaction on the connection, and
    PostgreSQL's advisory lock must be held on that same connection around it.
    """
    async with db.engine.connect() as conn:
        current = await conn.run_sync(_current_revision)
    if current is not None and current == head_revision():
        return  # up to date: Alembic (11 MB, 0.3 s to import) is not needed
    async with db.engine.connect() as conn:
        if db.dialect == "postgresql":
            await conn.execute(text("SELECT pg_advisory_lock(:id)"), {"id": _MIGRATION_LOCK_ID})
        try:
            await conn.run_sync(_upgrade)
            await conn.commit()
        finally:
            if db.dialect == "postgresql":
                await conn.execute(
                    text("SELECT pg_advisory_unlock(:id)"), {"id": _MIGRATION_LOCK_ID}
                )
                await conn.commit()


def head_revision() -> str | None:
    """The newest migration's revision, read from the scripts without importing Alembic.

    None when the scripts do not read as one straight line of revisions; Alembic, which
    stays the authority on what to apply, then decides.
    """
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("[!_]*.py"):
        script = path.read_text(encoding="utf-8")
        revision = re.search(_ASSIGNMENT.format(name="revision"), script, re.MULTILINE)
        down = re.search(_ASSIGNMENT.format(name="down_revision"), script, re.MULTILINE)
        if revision is None or revision[1] is None or down is None:
            return None
        revisions.add(revision[1])
        if down[1] is not None:
            parents.add(down[1])
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 and len(parents) == len(revisions) - 1 else None


def _current_revision(sync_conn: Connection) -> str | None:
    """The revision the database is at; None if it has none (or several)."""
    if not inspect(sync_conn).has_table("alembic_version"):
        return None
    found = sync_conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    return str(found[0]) if len(found) == 1 else None


def _upgrade(sync_conn: Connection) -> None:
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = sync_conn
    command.upgrade(cfg, "head")
