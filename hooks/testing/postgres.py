"""Scratch PostgreSQL databases for tests and benchmarks: each run gets one of its own."""

from __future__ import annotations

import uuid

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine


async def _admin(admin_url: str, sql: str) -> None:
    # CREATE/DROP DATABASE cannot run inside a transaction.
    engine = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(sql))
    finally:
        await engine.dispose()


async def create_scratch_database(admin_url: str, prefix: str) -> str:
    """A new empty database `<prefix>_<random>` on `admin_url`'s server; its URL for the
    service (the default driver, as HOOKS_DATABASE_URL is written)."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    await _admin(admin_url, f'CREATE DATABASE "{name}"')
    return admin_url.rsplit("/", 1)[0].replace("+asyncpg", "") + f"/{name}"


async def drop_scratch_database(admin_url: str, url: str) -> None:
    """Drop the database `url` names, closing any connection still open to it."""
    await _admin(admin_url, f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')
