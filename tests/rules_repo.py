"""Helpers for tests of rules read from a GitLab project: the demo plus a rules project
`ops/automation` holding the shipped pack under `rules/`, and the service following it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from hooks.rules.model import RuleSet
from hooks.service.context import SERVICE
from hooks.service.runtime import Runtime
from hooks.testing.sim_seed_demo import demo_seed
from hooks.testing.simulator import Simulator
from hooks.testing.waiting import eventually
from tests.conftest import SECRET
from tests.e2e import RULE_PACK, service_settings, start_service

RULES_PROJECT = "ops/automation"
ADMIN_TOKEN = "admin-token-rules"


def seed_with_rules_project() -> dict[str, Any]:
    """The demo, and an `ops` group whose project `ops/automation` will hold the rules."""
    seed = demo_seed(datetime.now(UTC).date())
    seed["groups"].append({"path": "ops"})
    seed["projects"].append({"path": RULES_PROJECT})
    return seed


def commit_rule_pack(sim: Simulator, **options: Any) -> str:
    """Commit the shipped pack (rules, fixtures, schema) at `rules/` of the rules project."""
    return sim.seed_directory(RULES_PROJECT, RULE_PACK, prefix="rules", **options)


def pack_file(name: str) -> str:
    return (RULE_PACK / name).read_text()


async def serve_rules_project(sim: Simulator, tmp_path: Path, **overrides: Any) -> TestServer:
    """The service following the rules project, with the demo group's hook and the rules
    project's hook (pushes and merge requests) pointing at it, as install-webhook sets them."""
    values: dict[str, Any] = {
        "rules_project": RULES_PROJECT,
        "rules_check_interval_s": 0.2,
        "admin_token": ADMIN_TOKEN,
    }
    values.update(overrides)
    # HOOKS_RULES_DIR points at an empty folder: nothing may be read from it.
    empty = tmp_path / "unused-rules"
    empty.mkdir(exist_ok=True)
    server = await start_service(service_settings(sim, tmp_path, empty, **values))
    url = str(server.make_url("/webhook"))
    sim.add_hook(url, SECRET, group="demo", push_events=False)
    sim.add_hook(url, SECRET, project=RULES_PROJECT, merge_requests_events=True)
    return server


# The fixtures of the tests that run from the rules project; a test module imports them.
@pytest.fixture
def gitlab_seed() -> dict[str, Any]:
    return seed_with_rules_project()


@pytest.fixture
async def service(gitlab_sim: Simulator, tmp_path: Path) -> AsyncIterator[TestServer]:
    """The service following the rules project, whose main holds the shipped pack."""
    commit_rule_pack(gitlab_sim, user="alice")
    server = await serve_rules_project(gitlab_sim, tmp_path)
    yield server
    await server.close()


def runtime_of(server: TestServer) -> Runtime:
    runtime = server.app[SERVICE].runtime
    assert runtime is not None
    return runtime


def in_force(server: TestServer) -> RuleSet:
    rules = runtime_of(server).rules.rules
    assert rules is not None, "no rules in force"
    return rules


async def live_at(server: TestServer, sha: str, within_s: float = 20) -> None:
    """Wait until the rules in force are those of commit `sha`."""

    async def live() -> bool:
        rules = in_force(server)
        assert (rules.origin, rules.version) == ("gitlab", sha), (rules.origin, rules.version)
        return True

    await eventually(live, within_s=within_s, what=f"rules of {sha[:12]} in force")


async def get(server: TestServer, path: str) -> aiohttp.ClientResponse:
    """GET a route of the service (body read)."""
    async with aiohttp.ClientSession() as session:
        response = await session.get(server.make_url(path))
        await response.read()
        return response


async def post_admin(server: TestServer, path: str) -> aiohttp.ClientResponse:
    """POST an admin route of the service with the admin token (body read)."""
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    async with aiohttp.ClientSession() as session:
        response = await session.post(server.make_url(path), headers=headers)
        await response.read()
        return response
