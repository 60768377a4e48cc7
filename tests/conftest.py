"""Shared fixtures: real databases (SQLite file, PostgreSQL) and the simulator's fixtures."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from hooks.events import HANDLED_EVENTS
from hooks.service.config import Settings
from hooks.testing.postgres import create_scratch_database, drop_scratch_database

pytest_plugins = ["hooks.testing.fixtures"]

# Real GitLab webhook payloads, each with its provenance in SOURCES.md beside it.
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "webhooks"
# Every fixture and the X-Gitlab-Event header GitLab sends it with (index.json).
WEBHOOK_HEADERS: dict[str, str] = json.loads((FIXTURES / "index.json").read_text())
# The fixtures of the kinds the service acts on (the others are acknowledged as ignored).
FIXTURE_EVENTS = {name: h for name, h in WEBHOOK_HEADERS.items() if h in HANDLED_EVENTS}

POSTGRES_ADMIN_URL = os.environ.get(
    "HOOKS_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
SECRET = "test-secret-0123456789"


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database of its own, dropped afterwards."""
    url = asyncio.run(create_scratch_database(POSTGRES_ADMIN_URL, "hooks_test"))
    yield url
    asyncio.run(drop_scratch_database(POSTGRES_ADMIN_URL, url))


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'hooks.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str:
    """Each test using this runs once on SQLite and once on PostgreSQL."""
    name = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    return str(request.getfixturevalue(name))


@pytest.fixture
def settings(sqlite_url: str, tmp_path: Path) -> Settings:
    """Settings for an in-process service: SQLite in tmp, no rules, a known secret, fast retries."""
    (tmp_path / "rules").mkdir(exist_ok=True)
    return Settings(
        _env_file=None,
        database_url=sqlite_url,
        webhook_secret=SECRET,
        rules_dir=tmp_path / "rules",
        poll_interval_s=0.05,
        retry_base_s=0.01,
        retry_cap_s=0.05,
    )
