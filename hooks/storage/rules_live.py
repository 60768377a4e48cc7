"""Which commit's rules are live, shared by every replica (rules read from a GitLab project)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from hooks.storage.engine import dialect_insert
from hooks.storage.store import Store
from hooks.storage.tables import rules_live


@dataclass(frozen=True)
class LiveCommit:
    """The live commit of one rules source, and the newest commit refused with its errors."""

    source: str
    sha: str | None
    loaded_at: datetime | None
    refused_sha: str | None = None
    refused_errors: list[str] = field(default_factory=list)
    refused_at: datetime | None = None


class RulesLiveStore:
    """Reads and writes of `rules_live`: one row per source (`project@ref`)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def read(self, source: str) -> LiveCommit | None:
        async with self.store.engine.connect() as conn:
            row = (
                await conn.execute(select(rules_live).where(rules_live.c.source == source))
            ).first()
        if row is None:
            return None
        return LiveCommit(
            source=row.source,
            sha=row.sha,
            loaded_at=row.loaded_at,
            refused_sha=row.refused_sha,
            refused_errors=json.loads(row.refused_errors) if row.refused_errors else [],
            refused_at=row.refused_at,
        )

    async def set_live(self, source: str, sha: str, now: datetime) -> None:
        """`sha` is live; a refusal of an older commit no longer stands."""
        await self._upsert(
            source,
            {
                "sha": sha,
                "loaded_at": now,
                "refused_sha": None,
                "refused_errors": None,
                "refused_at": None,
                "updated_at": now,
            },
        )

    async def set_refused(self, source: str, sha: str, errors: list[str], now: datetime) -> None:
        """`sha` was refused; the live commit stays."""
        await self._upsert(
            source,
            {
                "refused_sha": sha,
                "refused_errors": json.dumps(errors),
                "refused_at": now,
                "updated_at": now,
            },
        )

    async def _upsert(self, source: str, values: dict[str, Any]) -> None:
        insert = dialect_insert(self.store.dialect)

        def write(conn: Connection) -> None:
            stmt = insert(rules_live).values(source=source, **values)
            conn.execute(stmt.on_conflict_do_update(index_elements=["source"], set_=values))

        await self.store.transact(write)
