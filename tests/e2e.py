"""Helpers for end-to-end tests: the service on a real port, wired to the simulator."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import gitlab
from aiohttp.test_utils import TestServer
from pydantic import SecretStr

from hooks.config import Settings
from hooks.store import Store
from hooks.testing.simulator import Simulator
from hooks.web import SERVICE, create_app
from hooks.worker import utcnow
from tests.conftest import SECRET

RULE_PACK = Path(__file__).resolve().parents[1] / "rules"


def service_settings(
    sim: Simulator, tmp_path: Path, rules: str | Path, **overrides: Any
) -> Settings:
    """Settings of a service acting on the simulator with a rules folder or rule file text."""
    if isinstance(rules, Path):
        rules_dir = rules
    else:
        rules_dir = tmp_path / "rules"
        rules_dir.mkdir(exist_ok=True)
        (rules_dir / "rules.yaml").write_text(rules)
    values: dict[str, Any] = {
        "database_url": f"sqlite:///{tmp_path / 'hooks.db'}",
        "webhook_secret": SECRET,
        "rules_dir": rules_dir,
        "gitlab_url": sim.url,
        "gitlab_token": SecretStr(sim.bot_token),
        "gitlab_timeout_s": 2.0,
        "gitlab_rate_per_minute": 60_000,
        "poll_interval_s": 0.05,
        "retry_base_s": 0.05,
        "retry_cap_s": 0.5,
        "max_attempts": 30,
        "lease_seconds": 5.0,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


async def start_service(settings: Settings) -> TestServer:
    """The app on a real loopback port, so the simulator can deliver to it."""
    server = TestServer(create_app(settings), host="127.0.0.1")
    await server.start_server()
    return server


def store_of(server: TestServer) -> Store:
    return server.app[SERVICE].store


def as_user(sim: Simulator, username: str) -> gitlab.Gitlab:
    """python-gitlab acting as a team member (not the bot)."""
    return gitlab.Gitlab(sim.url, private_token=sim.token_for(username), timeout=5)


async def settle(sim: Simulator, store: Store, within_s: float = 30.0) -> None:
    """Wait until no webhook is in flight and no delivery is pending or processing."""
    deadline = time.monotonic() + within_s
    quiet = 0
    while time.monotonic() < deadline:
        await asyncio.to_thread(sim.wait_webhooks_idle, 5)
        stats = await store.stats(utcnow())
        if stats.pending == 0 and stats.processing == 0 and sim.webhooks.pending == 0:
            quiet += 1
            if quiet >= 3:  # stable across a few polls: echoes have come and gone
                return
        else:
            quiet = 0
        await asyncio.sleep(0.1)
    raise AssertionError(f"not settled within {within_s}s: {stats}")


def marked_notes(sim: Simulator, path: str, iid: int) -> list[dict[str, Any]]:
    """Notes the service posted (they carry its hidden marker)."""
    return [n for n in sim.notes(path, iid) if "<!-- hooks:" in n["body"]]
