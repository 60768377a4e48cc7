"""The service's own state, on SQLite or PostgreSQL (SQLAlchemy async Core).

`Store` is the entry point: `store.inbox` (deliveries), `store.audit` (the audit trail and
the dashboard's reads) and `store.transact`, the one write path every write goes through;
its methods delegate to those parts. The ledgers built on a store live beside it:
`hooks.storage.actions.ActionLog`, `hooks.storage.runs.RunLedger`,
`hooks.storage.watch.WatchStore`.

Modules: `engine` (URL, pool, dialect differences), `database` (`Database.transact`),
`sqlite_batch` (SQLite group commit, the only user of aiosqlite's private API), `tables`,
`records`, `inbox`, `audit`, `actions`, `runs`, `watch`, `migrations`, `store`.
"""

from hooks.storage.engine import DatabaseUnusable, async_url, database_unusable
from hooks.storage.records import AuditRecord, Delivery, NewDelivery, QueueStats, dedup_key
from hooks.storage.store import Store, open_store

__all__ = [
    "AuditRecord",
    "DatabaseUnusable",
    "Delivery",
    "NewDelivery",
    "QueueStats",
    "Store",
    "async_url",
    "database_unusable",
    "dedup_key",
    "open_store",
]
