"""SIGKILL after GitLab made the change but before the service recorded it: no duplicate."""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from hooks.storage.store import Store
from hooks.testing.serve_process import ServeProcess, serve_environment
from hooks.testing.sim_faults import Fault
from hooks.testing.simulator import Simulator
from hooks.testing.waiting import eventually
from tests.conftest import SECRET
from tests.e2e import RULE_PACK, as_user, marked_notes, settle


@pytest.fixture
def serve_env(gitlab_sim: Simulator, tmp_path: Path) -> Iterator[dict[str, str]]:
    yield serve_environment(
        HOOKS_DATABASE_URL=f"sqlite:///{tmp_path / 'hooks.db'}",
        HOOKS_WEBHOOK_SECRET=SECRET,
        HOOKS_RULES_DIR=str(RULE_PACK),
        HOOKS_GITLAB_URL=gitlab_sim.url,
        HOOKS_GITLAB_TOKEN=gitlab_sim.bot_token,
        HOOKS_GITLAB_TIMEOUT_S="10",
        HOOKS_LEASE_SECONDS="1",
        HOOKS_POLL_INTERVAL_S="0.05",
        HOOKS_RETRY_BASE_S="0.05",
        HOOKS_LOG_FORMAT="json",
    )


async def kill_after_write_then_restart(
    sim: Simulator,
    env: dict[str, str],
    tmp_path: Path,
    fault: Fault,
    written: Callable[[], bool],
    change: Callable[[], None],
) -> list[dict[str, Any]]:
    """Returns the audited action results of the restarted service."""
    first = ServeProcess(env, tmp_path / "serve.log")
    await first.ready()
    sim.add_hook(f"{first.url}/webhook", SECRET, group="demo")
    sim.faults.add(fault)  # GitLab makes the change, then is slow to answer

    change()
    await eventually(written, within_s=20, what="the change written")
    first.stop(signal.SIGKILL)  # dead before it could record the result
    sim.faults.clear()

    second = ServeProcess(env, tmp_path / "serve.log", first.port)  # the hook points here
    await second.ready()
    store = Store.open(env["HOOKS_DATABASE_URL"])
    try:
        await settle(sim, store, within_s=30)
        trail = await store.audit_for(subject="demo/product#1")
        return [r["detail"].get("result") or {} for r in trail if r["kind"] == "action"]
    finally:
        await store.close()
        second.stop(signal.SIGTERM)


async def test_a_comment_posted_just_before_a_crash_is_not_posted_again(
    gitlab_sim: Simulator, serve_env: dict[str, str], tmp_path: Path
) -> None:
    def block() -> None:
        issue = as_user(gitlab_sim, "alice").projects.get("demo/product", lazy=True).issues.get(1)
        issue.labels = [*issue.labels, "blocked"]
        issue.save()

    results = await kill_after_write_then_restart(
        gitlab_sim,
        serve_env,
        tmp_path,
        Fault(user="hooks-bot", method="POST", path="*/notes", after_s=5),
        lambda: bool(marked_notes(gitlab_sim, "demo/product", 1)),
        block,
    )

    assert len(marked_notes(gitlab_sim, "demo/product", 1)) == 1
    assert "health::needs attention" in gitlab_sim.issue("demo/product", 1)["labels"]
    assert any(r.get("found_by_marker") for r in results)  # resumed, found, not re-posted


async def test_a_sister_issue_created_just_before_a_crash_is_not_created_again(
    gitlab_sim: Simulator, serve_env: dict[str, str], tmp_path: Path
) -> None:
    def prioritise() -> None:
        issue = as_user(gitlab_sim, "alice").projects.get("demo/product", lazy=True).issues.get(1)
        issue.labels = [*issue.labels, "release-priority"]
        issue.save()

    def sisters() -> list[dict[str, Any]]:
        return [
            i for i in gitlab_sim.issues("demo/marketing") if i["title"].startswith("Marketing:")
        ]

    results = await kill_after_write_then_restart(
        gitlab_sim,
        serve_env,
        tmp_path,
        Fault(user="hooks-bot", method="POST", path="/api/v4/projects/*/issues", after_s=5),
        lambda: bool(sisters()),
        prioritise,
    )

    assert len(sisters()) == 1
    assert len(gitlab_sim.links("demo/product", 1)) == 1
    assert any(r.get("found_by_marker") for r in results)
