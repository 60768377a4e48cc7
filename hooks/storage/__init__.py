"""The service's own state, on SQLite or PostgreSQL (SQLAlchemy async Core).

`store.Store` is the entry point: `store.inbox` (deliveries), `store.audit` (the audit trail
and the dashboard's reads) and `store.transact`, the one write path every write goes through
(`database.Database.transact`); its methods delegate to those parts. The ledgers built on a
store live beside it: `actions.ActionLog`, `runs.RunLedger`, `watch.WatchStore`.

Modules: `engine` (URL, pool, dialect differences), `database` (the transaction helper),
`sqlite_batch` (SQLite group commit, the only user of aiosqlite's private API), `tables`,
`records` (what is stored, as the service sees it), `inbox`, `audit`, `actions`, `runs`,
`watch`, `migrations`, `store`. Import from the module: this `__init__` imports nothing, so
no module of the package is in a circle with it.
"""
