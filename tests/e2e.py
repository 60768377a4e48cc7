"""Helpers for end-to-end tests: the service on a real port, wired to the simulator."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gitlab
from aiohttp.test_utils import TestServer
from pydantic import SecretStr

from hooks.service.app import create_app
from hooks.service.config import Settings
from hooks.service.context import SERVICE
from hooks.storage.store import Store
from hooks.testing.harness import settle
from hooks.testing.simulator import Simulator
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


async def serve_rule_pack(sim: Simulator, tmp_path: Path, **overrides: Any) -> TestServer:
    """The service on the shipped rules, acting on the simulator, which sends it demo's hooks."""
    server = await start_service(service_settings(sim, tmp_path, RULE_PACK, **overrides))
    # The events install-webhook subscribes to: issues, releases, milestones, comments, emoji.
    sim.add_hook(
        str(server.make_url("/webhook")),
        SECRET,
        group="demo",
        note_events=True,
        confidential_note_events=True,
        emoji_events=True,
    )
    return server


def close_milestone(sim: Simulator, title: str, user: str = "alice") -> None:
    """A team member closes a group milestone of demo (a sprint ends)."""
    sprint = sim.milestone(title)
    milestone = as_user(sim, user).groups.get("demo", lazy=True).milestones.get(sprint["id"])
    milestone.state_event = "close"
    milestone.save()


def store_of(server: TestServer) -> Store:
    return server.app[SERVICE].store


def as_user(sim: Simulator, username: str) -> gitlab.Gitlab:
    """python-gitlab acting as a team member (not the bot)."""
    return gitlab.Gitlab(sim.url, private_token=sim.token_for(username), timeout=5)


def marked_notes(sim: Simulator, path: str, iid: int) -> list[dict[str, Any]]:
    """Notes the service posted (they carry its hidden marker)."""
    return [n for n in sim.notes(path, iid) if "<!-- hooks:" in n["body"]]


__all__ = [
    "RULE_PACK",
    "as_user",
    "close_milestone",
    "marked_notes",
    "serve_rule_pack",
    "service_settings",
    "settle",
    "start_service",
    "store_of",
]
