"""The durable inbox and audit trail, on SQLite or PostgreSQL (SQLAlchemy async Core)."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import re
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import (
    Connection,
    Engine,
    StaticPool,
    bindparam,
    create_engine,
    event,
    func,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from hooks.events import KIND_HEADERS
from hooks.schema import UTCDateTime, audit, deliveries

MIGRATIONS = Path(__file__).parent / "migrations"
# Arbitrary but fixed: replicas starting together take turns migrating.
_MIGRATION_LOCK_ID = 0x686F6F6B73
INTAKE_BATCH = 200  # deliveries per group commit
TRANSACTION_BATCH = 64  # SQLite transactions committed together at most
T = TypeVar("T")


def async_url(url: str) -> str:
    """Turn the user-facing `sqlite:///` or `postgresql://` URL into its async driver form."""
    parsed = make_url(url)
    if parsed.drivername in ("sqlite", "sqlite+aiosqlite"):
        return str(parsed.set(drivername="sqlite+aiosqlite"))
    if parsed.drivername in ("postgresql", "postgres", "postgresql+asyncpg"):
        return parsed.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)
    raise ValueError(f"unsupported database URL scheme {parsed.drivername!r}")


def dedup_key(idempotency_key: str | None, kind: str, body: bytes) -> str:
    """GitLab's Idempotency-Key when present, else a hash of the event's kind and body.

    `kind` is the resolved kind (hooks.events.event_kind), not the header: one event under two
    header spellings ("Issue Hook" and "Work Item Hook" for a work item) is processed as the
    same event, so it is stored once; two kinds with one body (an issue body sent as a work
    item) trigger different rules and stay apart. The kind is hashed as its usual header
    name, so keys of deliveries stored before (whose header was that name) stay the same.
    """
    if idempotency_key:
        return "key:" + idempotency_key.strip()[:190]
    spelling = KIND_HEADERS.get(kind, kind)
    digest = hashlib.sha256(spelling.encode() + b"\0" + body).hexdigest()
    return "sha256:" + digest


@dataclass(frozen=True)
class NewDelivery:
    """What the intake stores for one accepted webhook."""

    dedup_key: str
    event_header: str
    kind: str | None
    project: str | None
    event_uuid: str | None
    headers: dict[str, str]
    body: bytes
    received_at: datetime


@dataclass(frozen=True)
class Delivery:
    """A stored delivery as the worker and the CLI see it."""

    id: int
    event_header: str
    kind: str | None
    project: str | None
    event_uuid: str | None
    headers: dict[str, str]
    body: bytes
    received_at: datetime
    status: str
    attempts: int
    next_attempt_at: datetime
    finished_at: datetime | None
    last_error: str | None


@dataclass(frozen=True)
class AuditRecord:
    """One line of the audit trail: an event seen, a rule evaluated, an action taken."""

    kind: str
    outcome: str
    detail: dict[str, Any] = field(default_factory=dict)
    subject: str | None = None
    rule: str | None = None


@dataclass(frozen=True)
class QueueStats:
    pending: int
    processing: int
    failed: int
    oldest_pending_age_s: float


def dialect_insert(dialect: str) -> Any:
    """The dialect's INSERT construct, the one with ON CONFLICT.

    PostgreSQL's is imported only when used: 2 MB a SQLite service need not carry.
    """
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert


def _delivery(row: Any) -> Delivery:
    return Delivery(
        id=row.id,
        event_header=row.event_header,
        kind=row.kind,
        project=row.project,
        event_uuid=row.event_uuid,
        headers=json.loads(row.headers),
        body=bytes(row.body),
        received_at=row.received_at,
        status=row.status,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        finished_at=row.finished_at,
        last_error=row.last_error,
    )


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    # WAL lets the worker read while the intake writes; FULL makes each commit
    # survive power loss, which "on disk before the 202" promises.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


class Store:
    """Every read and write of the service's own state goes through here."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        self._intake: list[tuple[NewDelivery, asyncio.Future[tuple[int, bool]]]] = []
        self._intake_task: asyncio.Task[None] | None = None
        self._transactions: list[tuple[Callable[[Connection], Any], asyncio.Future[Any]]] = []
        self._transactions_task: asyncio.Task[None] | None = None

    @classmethod
    def open(cls, url: str) -> Store:
        """Create the engine for a `sqlite:///` or `postgresql://` URL (nothing connects yet)."""
        full = async_url(url)
        parsed = make_url(full)
        if parsed.drivername.startswith("sqlite"):
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            # SQLite has one writer: one connection serialises work in the event loop
            # instead of threads contending for the file lock (13 vs 17 ms per delivery measured).
            # No rollback on return to the pool: every use of a connection here ends in
            # commit, rollback, or close (which rolls back what it began), so the pool's
            # extra ROLLBACK was one more thread round trip per transaction for nothing.
            engine = create_async_engine(
                full,
                connect_args={"timeout": 5},
                pool_size=1,
                max_overflow=0,
                pool_timeout=30,
                pool_reset_on_return=None,
            )
            event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        else:
            engine = create_async_engine(
                full,
                pool_size=10,
                max_overflow=10,
                pool_pre_ping=True,
                pool_timeout=5,
                connect_args={"timeout": 5, "command_timeout": 10},
            )
        return cls(engine)

    async def close(self) -> None:
        if self._transactions_task is not None:  # callers cancelled: their work still lands
            await asyncio.gather(self._transactions_task, return_exceptions=True)
        await self.engine.dispose()

    async def migrate(self) -> None:
        """Apply every Alembic migration not yet applied."""
        async with self.engine.connect() as conn:
            current = await conn.run_sync(_current_revision)
        if current is not None and current == head_revision():
            return  # up to date: Alembic (11 MB, 0.3 s to import) is not needed
        async with self.engine.connect() as conn:
            if self.dialect == "postgresql":
                await conn.execute(text("SELECT pg_advisory_lock(:id)"), {"id": _MIGRATION_LOCK_ID})
            try:
                await conn.run_sync(_upgrade)
                await conn.commit()
            finally:
                if self.dialect == "postgresql":
                    await conn.execute(
                        text("SELECT pg_advisory_unlock(:id)"), {"id": _MIGRATION_LOCK_ID}
                    )
                    await conn.commit()

    async def transact(self, work: Callable[[Connection], T]) -> T:
        """Run `work` in a transaction, committed when it returns, rolled back if it raises.

        On SQLite, transactions asked for while one is being written are run together, in
        one trip to aiosqlite's thread and one commit: statement by statement it is four
        trips per statement and one per commit, each waking that thread and then the event
        loop, and each commit waits for the disk (2 ms here) while every other query waits
        for the one connection. Each caller returns only once its own work is committed.
        """
        if self.dialect != "sqlite":
            async with self.engine.begin() as conn:
                return await conn.run_sync(work)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._transactions.append((work, future))
        if self._transactions_task is None or self._transactions_task.done():
            self._transactions_task = asyncio.create_task(self._write_transactions())
        result: T = await future
        return result

    async def _write_transactions(self) -> None:
        while self._transactions:
            batch = self._transactions[:TRANSACTION_BATCH]
            self._transactions = self._transactions[TRANSACTION_BATCH:]
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

    async def _run_in_thread(
        self, works: list[Callable[[Connection], Any]]
    ) -> list[tuple[Any, Exception | None]]:
        async with self.engine.connect() as conn:
            # Checked out, the pool's one connection is ours: nothing else can use it meanwhile.
            driver: Any = (await conn.get_raw_connection()).driver_connection
            outcomes: list[tuple[Any, Exception | None]] = await driver._execute(
                _transactions, _sync_engine(driver), works
            )
            if any(
                isinstance(error, DBAPIError) and error.connection_invalidated
                for _, error in outcomes
            ):
                await conn.invalidate()  # the sync side closed it: the pool must know
        return outcomes

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    # -- intake ---------------------------------------------------------------

    async def add_delivery(self, new: NewDelivery) -> tuple[int, bool]:
        """Store a delivery unless its dedup key is known; return (id, duplicate).

        Concurrent calls are committed together (group commit): one transaction and one
        fsync for every delivery that arrived while the previous batch was being written.
        Each caller still returns only once its own delivery is on disk.
        """
        future: asyncio.Future[tuple[int, bool]] = asyncio.get_running_loop().create_future()
        self._intake.append((new, future))
        if self._intake_task is None or self._intake_task.done():
            self._intake_task = asyncio.create_task(self._write_intake())
        return await future

    async def _write_intake(self) -> None:
        while self._intake:
            batch, self._intake = self._intake[:INTAKE_BATCH], self._intake[INTAKE_BATCH:]
            await self._write_batch(batch)

    async def _write_batch(
        self, batch: list[tuple[NewDelivery, asyncio.Future[tuple[int, bool]]]]
    ) -> None:
        try:
            results = await self._insert_deliveries([new for new, _ in batch])
        except Exception as exc:
            if len(batch) > 1 and await self._reachable():
                # The database is up but refused a row: the delivery it cannot hold must not
                # take the rest of its batch down with it, so each is written alone.
                for one in batch:
                    await self._write_batch([one])
                return
            for _, future in batch:  # every caller of the batch learns it was not stored
                if not future.done():
                    future.set_exception(exc)
            return
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)

    async def _reachable(self) -> bool:
        try:
            await self.ping()
        except Exception:
            return False
        return True

    async def _insert_deliveries(self, batch: list[NewDelivery]) -> list[tuple[int, bool]]:
        insert = dialect_insert(self.dialect)
        first: dict[str, NewDelivery] = {}
        for new in batch:
            first.setdefault(new.dedup_key, new)
        rows = [
            {
                "dedup_key": new.dedup_key,
                "event_header": new.event_header,
                "kind": new.kind,
                "project": new.project,
                "event_uuid": new.event_uuid,
                "headers": json.dumps(new.headers),
                "body": new.body,
                "received_at": new.received_at,
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": new.received_at,
            }
            for new in first.values()
        ]
        # One statement executed with many parameter sets: SQLAlchemy compiles it once and
        # caches it, where a multi-row .values(rows) was compiled anew for every batch.
        stmt = (
            insert(deliveries)
            .on_conflict_do_nothing(index_elements=["dedup_key"])
            .returning(deliveries.c.id, deliveries.c.dedup_key)
        )

        def write(conn: Connection) -> tuple[dict[str, int], dict[str, int]]:
            inserted = {key: int(i) for i, key in conn.execute(stmt, rows).all()}
            known = [key for key in first if key not in inserted]
            if not known:
                return inserted, {}
            found = conn.execute(
                select(deliveries.c.id, deliveries.c.dedup_key).where(
                    deliveries.c.dedup_key.in_(known)
                )
            )
            return inserted, {key: int(i) for i, key in found.all()}

        inserted, existing = await self.transact(write)
        results = []
        claimed: set[str] = set()
        for new in batch:
            key = new.dedup_key
            if key in inserted and key not in claimed:
                claimed.add(key)  # the first of the batch inserted it; repeats are duplicates
                results.append((inserted[key], False))
            else:
                results.append((inserted.get(key) or existing[key], True))
        return results

    # -- worker ---------------------------------------------------------------

    async def claim(
        self, owner: str, limit: int, lease: timedelta, now: datetime
    ) -> list[Delivery]:
        """Lease up to `limit` due deliveries, including those whose lease ran out."""
        params = {"b_now": now, "b_owner": owner, "b_until": now + lease}
        stmt = _claim_statement(limit)
        rows = await self.transact(lambda conn: conn.execute(stmt, params).all())
        return sorted((_delivery(row) for row in rows), key=lambda x: x.id)

    async def extend_lease(self, ids: Sequence[int], owner: str, until: datetime) -> None:
        if not ids:
            return
        d = deliveries.c
        async with self.engine.begin() as conn:
            await conn.execute(
                update(deliveries)
                .where(d.id.in_(list(ids)) & (d.lease_owner == owner))
                .values(lease_expires_at=until)
            )

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
        """Record the outcome and its audit lines at once, if this owner still holds the lease.

        Returns False when the lease was lost (another worker reclaimed the
        delivery): nothing is written, so the outcome is recorded exactly once.
        """
        params = {
            "b_id": delivery_id,
            "b_owner": owner,
            "b_status": status,
            "b_now": now,
            "b_error": error,
        }

        def write(conn: Connection) -> bool:
            if conn.execute(_FINISH, params).rowcount != 1:
                return False
            if records:
                conn.execute(_AUDIT_INSERT, _audit_rows(records, now, delivery_id=delivery_id))
            return True

        return await self.transact(write)

    async def retry_later(
        self, delivery_id: int, owner: str, *, at: datetime, error: str, now: datetime
    ) -> bool:
        """Give a claimed delivery back to the queue, due again at `at`."""
        d = deliveries.c
        back = (
            update(deliveries)
            .where((d.id == delivery_id) & (d.lease_owner == owner))
            .values(
                status="pending",
                lease_owner=None,
                lease_expires_at=None,
                next_attempt_at=at,
                last_error=error,
            )
        )
        record = AuditRecord(kind="error", outcome="retry", detail={"error": error})

        def write(conn: Connection) -> bool:
            if conn.execute(back).rowcount != 1:
                return False
            conn.execute(_AUDIT_INSERT, _audit_rows([record], now, delivery_id=delivery_id))
            return True

        return await self.transact(write)

    async def release(self, ids: Sequence[int], owner: str) -> None:
        """Hand unfinished claims back at shutdown without counting the attempt."""
        if not ids:
            return
        d = deliveries.c
        async with self.engine.begin() as conn:
            await conn.execute(
                update(deliveries)
                .where(d.id.in_(list(ids)) & (d.lease_owner == owner))
                .values(
                    status="pending",
                    lease_owner=None,
                    lease_expires_at=None,
                    attempts=d.attempts - 1,
                )
            )

    async def replay(self, delivery_id: int, now: datetime) -> bool:
        """Queue a finished delivery again; False if unknown or still being processed."""
        d = deliveries.c
        async with self.engine.begin() as conn:
            result = await conn.execute(
                update(deliveries)
                .where((d.id == delivery_id) & (d.status != "processing"))
                .values(
                    status="pending",
                    attempts=0,
                    next_attempt_at=now,
                    finished_at=None,
                    last_error=None,
                )
            )
            if result.rowcount == 1:
                await self._insert_audit(
                    conn, [AuditRecord(kind="replay", outcome="queued")], now, delivery_id
                )
        return result.rowcount == 1

    # -- audit and queries ----------------------------------------------------

    async def add_audit(
        self, records: Sequence[AuditRecord], now: datetime, *, run_key: str | None = None
    ) -> None:
        """Append audit lines that belong to no delivery (scheduled runs, reconciliation)."""
        async with self.engine.begin() as conn:
            await self._insert_audit(conn, records, now, run_key=run_key)

    @staticmethod
    async def _insert_audit(
        conn: Any,
        records: Sequence[AuditRecord],
        now: datetime,
        delivery_id: int | None = None,
        run_key: str | None = None,
    ) -> None:
        if records:
            await conn.execute(_AUDIT_INSERT, _audit_rows(records, now, delivery_id, run_key))

    async def get_delivery(self, delivery_id: int) -> Delivery | None:
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(select(deliveries).where(deliveries.c.id == delivery_id))
            ).first()
        return _delivery(row) if row else None

    async def list_deliveries(
        self,
        *,
        status: str | None = None,
        kind: str | None = None,
        project: str | None = None,
        limit: int = 50,
        before_id: int | None = None,
    ) -> list[Delivery]:
        """Newest first, optionally filtered."""
        d = deliveries.c
        query = select(deliveries).order_by(d.id.desc()).limit(limit)
        if status:
            query = query.where(d.status == status)
        if kind:
            query = query.where(d.kind == kind)
        if project:
            query = query.where(d.project == project)
        if before_id:
            query = query.where(d.id < before_id)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [_delivery(row) for row in rows]

    async def audit_for(
        self, *, delivery_id: int | None = None, subject: str | None = None, limit: int = 500
    ) -> list[dict[str, Any]]:
        """The audit lines of one delivery, or of one subject (`path#iid`), oldest first."""
        a = audit.c
        query = select(audit).order_by(a.id).limit(limit)
        if delivery_id is not None:
            query = query.where(a.delivery_id == delivery_id)
        if subject is not None:
            query = query.where(a.subject == subject)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [{**row._asdict(), "detail": json.loads(row.detail)} for row in rows]

    async def last_matches(self) -> dict[str, datetime]:
        """When each rule last matched, by rule name, from the audit trail."""
        a = audit.c
        query = (
            select(a.rule, func.max(a.created_at, type_=UTCDateTime()))
            .where((a.kind == "rule") & (a.outcome == "matched"))
            .group_by(a.rule)
        )
        async with self.engine.connect() as conn:
            return {rule: when for rule, when in (await conn.execute(query)).all()}

    async def stats(self, now: datetime) -> QueueStats:
        """Queue depth by status and the age of the oldest pending delivery."""
        d = deliveries.c
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(d.status, func.count())
                .where(d.status.in_(["pending", "processing", "failed"]))
                .group_by(d.status)
            )
            counts: dict[str, int] = {status: count for status, count in rows}
            oldest = (
                await conn.execute(select(func.min(d.received_at)).where(d.status == "pending"))
            ).scalar_one_or_none()
        if isinstance(oldest, str):  # SQLite returns min() of a TypeDecorator column raw
            oldest = datetime.fromisoformat(oldest).replace(tzinfo=UTC)
        age = (now - oldest).total_seconds() if oldest else 0.0
        return QueueStats(
            pending=counts.get("pending", 0),
            processing=counts.get("processing", 0),
            failed=counts.get("failed", 0),
            oldest_pending_age_s=max(age, 0.0),
        )


# The synchronous engine over each aiosqlite connection's own sqlite3 connection, for the
# transactions `Store.transact` runs inside that connection's thread.
_SYNC_ENGINES: weakref.WeakKeyDictionary[Any, Engine] = weakref.WeakKeyDictionary()


def _sync_engine(driver: Any) -> Engine:
    engine = _SYNC_ENGINES.get(driver)
    if engine is None:
        raw = driver._conn
        # Same dialect family as aiosqlite's (it subclasses pysqlite): same SQL, same types.
        # No reset on return: every use ends in commit or rollback.
        engine = create_engine(
            "sqlite://", creator=lambda: raw, poolclass=StaticPool, pool_reset_on_return=None
        )
        _SYNC_ENGINES[driver] = engine
    return engine


def _transactions(
    engine: Engine, works: list[Callable[[Connection], Any]]
) -> list[tuple[Any, Exception | None]]:
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
    outcomes: list[tuple[Any, Exception | None]] = []
    for work in works:
        try:
            with engine.begin() as conn:
                outcomes.append((work(conn), None))
        except Exception as exc:
            outcomes.append((None, exc))
    return outcomes


# The statements run for every delivery are built once: building a SQLAlchemy statement
# and its cache key costs about as much CPU as the SQLite transaction that runs it.
_D = deliveries.c
_FINISH = (
    update(deliveries)
    .where((_D.id == bindparam("b_id")) & (_D.lease_owner == bindparam("b_owner")))
    .values(
        status=bindparam("b_status"),
        lease_owner=None,
        lease_expires_at=None,
        finished_at=bindparam("b_now"),
        last_error=bindparam("b_error"),
    )
)
_AUDIT_INSERT = audit.insert()


def _audit_rows(
    records: Sequence[AuditRecord],
    now: datetime,
    delivery_id: int | None = None,
    run_key: str | None = None,
) -> list[dict[str, Any]]:
    return [
        {
            "delivery_id": delivery_id,
            "run_key": run_key,
            "subject": r.subject,
            "rule": r.rule,
            "kind": r.kind,
            "outcome": r.outcome,
            "detail": json.dumps(r.detail, default=str, sort_keys=True),
            "created_at": now,
        }
        for r in records
    ]


@functools.cache
def _claim_statement(limit: int) -> Any:
    """Lease up to `limit` due deliveries (one statement per limit, built once)."""
    due = (
        select(_D.id)
        .where(
            ((_D.status == "pending") & (_D.next_attempt_at <= bindparam("b_now")))
            | ((_D.status == "processing") & (_D.lease_expires_at < bindparam("b_now")))
        )
        .order_by(_D.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return (
        update(deliveries)
        .where(_D.id.in_(due.scalar_subquery()))
        .values(
            status="processing",
            lease_owner=bindparam("b_owner"),
            lease_expires_at=bindparam("b_until"),
            attempts=_D.attempts + 1,
        )
        .returning(*deliveries.c)
    )


_ASSIGNMENT = r'^{name}\s*(?::[^=\n]*)?=\s*(?:"([^"\n]+)"|None)\s*$'


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
