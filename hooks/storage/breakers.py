"""Each rule's circuit breaker in the service database: failures in a row, paused or not.

Every replica counts into the same row (locked while counted on PostgreSQL; SQLite has one
writer), so five failures spread over two replicas pause the rule as five on one would.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, update

from hooks.storage.engine import dialect_insert
from hooks.storage.store import Store
from hooks.storage.tables import rule_breakers


@dataclass(frozen=True)
class BreakerState:
    """What is known of one rule's breaker."""

    rule: str
    failures: int
    last_error: str | None
    paused_at: datetime | None
    reason: str | None
    digest: str | None
    owner_issue: str | None  # project#iid
    owner_issue_url: str | None
    issue_error: str | None
    resumed_at: datetime | None
    resumed_by: str | None

    @property
    def paused(self) -> bool:
        return self.paused_at is not None


@dataclass(frozen=True)
class Attempt:
    """One action of the rule that reached GitLab: it worked, or why it failed."""

    ok: bool
    error: str | None = None
    project: str | None = None  # where the action acted (not stored)


def _state(row: Any) -> BreakerState:
    return BreakerState(
        rule=row.rule,
        failures=row.failures,
        last_error=row.last_error,
        paused_at=row.paused_at,
        reason=row.reason,
        digest=row.digest,
        owner_issue=row.owner_issue,
        owner_issue_url=row.owner_issue_url,
        issue_error=row.issue_error,
        resumed_at=row.resumed_at,
        resumed_by=row.resumed_by,
    )


class BreakerStore:
    """Reads and writes of `rule_breakers`."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def count(
        self,
        rule: str,
        attempts: Sequence[Attempt],
        *,
        now: datetime,
        pause_after: int,
        digest: str,
    ) -> tuple[int, BreakerState | None]:
        """Count the attempts in order: the failures in a row now, and the state when this
        paused the rule (else None).

        A paused rule counts nothing more (an action planned before it paused may still end).
        """
        insert = dialect_insert(self.store.dialect)

        def work(conn: Connection) -> tuple[int, BreakerState | None]:
            conn.execute(
                insert(rule_breakers)
                .values(rule=rule, failures=0, updated_at=now)
                .on_conflict_do_nothing(index_elements=["rule"])
            )
            row = conn.execute(
                select(rule_breakers).where(rule_breakers.c.rule == rule).with_for_update()
            ).one()
            if row.paused_at is not None:
                return row.failures, None
            failures, last_error = row.failures, row.last_error
            for attempt in attempts:
                if attempt.ok:
                    failures = 0
                else:
                    failures, last_error = failures + 1, attempt.error
            values: dict[str, Any] = {
                "failures": failures,
                "last_error": last_error,
                "updated_at": now,
            }
            pausing = 0 < pause_after <= failures
            if pausing:
                values.update(
                    paused_at=now,
                    reason=f"{failures} actions failed in a row; last: {last_error}",
                    digest=digest,
                    resumed_at=None,
                    resumed_by=None,
                )
            conn.execute(update(rule_breakers).where(rule_breakers.c.rule == rule).values(values))
            if not pausing:
                return failures, None
            return failures, _state(
                conn.execute(select(rule_breakers).where(rule_breakers.c.rule == rule)).one()
            )

        return await self.store.transact(work)

    async def active(self) -> dict[str, BreakerState]:
        """Every rule paused or with failures counted, by name."""
        c = rule_breakers.c
        async with self.store.engine.connect() as conn:
            rows = await conn.execute(
                select(rule_breakers).where(c.paused_at.is_not(None) | (c.failures > 0))
            )
            return {row.rule: _state(row) for row in rows}

    async def get(self, rule: str) -> BreakerState | None:
        async with self.store.engine.connect() as conn:
            row = (
                await conn.execute(select(rule_breakers).where(rule_breakers.c.rule == rule))
            ).first()
            return _state(row) if row else None

    async def resume(self, rule: str, *, now: datetime, by: str) -> BreakerState | None:
        """Resume a paused rule (its count starts again at 0); None when it was not paused."""

        def work(conn: Connection) -> BreakerState | None:
            done = conn.execute(
                update(rule_breakers)
                .where(rule_breakers.c.rule == rule, rule_breakers.c.paused_at.is_not(None))
                .values(paused_at=None, failures=0, resumed_at=now, resumed_by=by, updated_at=now)
            )
            if done.rowcount == 0:
                return None
            return _state(
                conn.execute(select(rule_breakers).where(rule_breakers.c.rule == rule)).one()
            )

        return await self.store.transact(work)

    async def set_issue(
        self,
        rule: str,
        *,
        issue: str | None,
        error: str | None,
        now: datetime,
        url: str | None = None,
    ) -> None:
        """Where the owner's issue is (`project#iid`), or why it could not be opened."""
        stmt = (
            update(rule_breakers)
            .where(rule_breakers.c.rule == rule)
            .values(issue_error=error, updated_at=now)
        )
        if issue is not None:
            stmt = stmt.values(owner_issue=issue, owner_issue_url=url)
        await self.store.transact(lambda conn: conn.execute(stmt))
