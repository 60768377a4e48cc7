"""Done-when of issue 19, through real processes: `hooks serve` and `hooks install-webhook` as
subprocesses, the simulator on a real port. A merge request changing `rules/20-rollover.yaml`
gets the check and a preview note naming the items whose roll-over would change; a push updates
the note; the merge puts the rules live and the next delivery's trace names the merged commit;
a broken push leaves those rules acting and a comment on its commit."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from hooks.rulesource.report import MR_MARKER, STATUS_NAME
from hooks.storage.store import Store
from hooks.testing.serve_process import ServeProcess, serve_environment
from hooks.testing.simulator import Simulator
from hooks.testing.waiting import eventually
from tests.conftest import SECRET
from tests.e2e import as_user, close_milestone, marked_notes
from tests.preview_history import PROPOSED_SENTENCE, ROLLOVER_SENTENCE
from tests.rules_repo import RULES_PROJECT, commit_rule_pack, gitlab_seed, pack_file
from tests.test_preview import rolling_items_of
from tests.test_serve_process import wait_all_finished

ROLLOVER = "rules/20-rollover.yaml"
BRANCH = "kinder-roll-over"


__all__ = ["gitlab_seed"]  # the fixture, used below


@pytest.fixture
def env(gitlab_sim: Simulator, tmp_path: Path) -> dict[str, str]:
    """Step 1 of the set-up: the settings naming the rules project (no local rules folder)."""
    values = serve_environment(
        HOOKS_DATABASE_URL=f"sqlite:///{tmp_path / 'hooks.db'}",
        HOOKS_WEBHOOK_SECRET=SECRET,
        HOOKS_GITLAB_URL=gitlab_sim.url,
        HOOKS_GITLAB_TOKEN=gitlab_sim.bot_token,
        HOOKS_GITLAB_RATE_PER_MINUTE="60000",
        HOOKS_RULES_DIR=str(tmp_path / "no-such-folder"),
        HOOKS_RULES_PROJECT=RULES_PROJECT,
        HOOKS_RULES_CHECK_INTERVAL_S="1",
        HOOKS_POLL_INTERVAL_S="0.05",
        HOOKS_LOG_FORMAT="json",
    )
    return values


@pytest.fixture
async def serve(
    gitlab_sim: Simulator, env: dict[str, str], tmp_path: Path
) -> AsyncIterator[ServeProcess]:
    commit_rule_pack(gitlab_sim, user="alice")
    server = ServeProcess(env, tmp_path / "serve.log")
    await server.ready()
    # Step 2: the webhooks, by the command a team runs.
    for target in ("demo", RULES_PROJECT):
        assert await hooks(env, "install-webhook", target, "--url", f"{server.url}/webhook") == 0
    yield server
    assert server.stop() is not None


async def hooks(env: dict[str, str], *args: str) -> int:
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "hooks", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return done.returncode


async def shown(env: dict[str, str], delivery: int) -> str:
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "hooks", "deliveries", "--show", str(delivery)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return done.stdout


async def settled(sim: Simulator, env: dict[str, str]) -> Store:
    await asyncio.to_thread(sim.wait_webhooks_idle, 10)
    return await wait_all_finished(env["HOOKS_DATABASE_URL"])


def check_note(sim: Simulator, iid: int) -> dict[str, Any]:
    [note] = [n for n in sim.mr_notes(RULES_PROJECT, iid) if MR_MARKER in n["body"]]
    return note


def status_of(sim: Simulator, sha: str) -> str | None:
    found = [s for s in sim.commit_statuses(RULES_PROJECT, sha) if s["name"] == STATUS_NAME]
    return found[-1]["status"] if found else None


async def live_version(server: ServeProcess) -> str:
    async with aiohttp.ClientSession() as session, session.get(server.url + "/metrics") as got:
        text = await got.text()
    [line] = [x for x in text.splitlines() if x.startswith("hooks_rules_version_info{")]
    return line.split('version="')[1].split('"')[0]


async def newest_delivery(store: Store, kind: str) -> int:
    """The newest delivery of `kind` a rule matched (not the bot's own echo of its change)."""
    for delivery in await store.list_deliveries(kind=kind):
        trail = await store.audit_for(delivery_id=delivery.id)
        if any(line["kind"] == "rule" and line["outcome"] == "matched" for line in trail):
            return delivery.id
    raise AssertionError(f"no {kind} delivery matched a rule")


async def test_a_rule_change_goes_from_merge_request_to_live_and_a_broken_push_does_not(
    gitlab_sim: Simulator, serve: ServeProcess, env: dict[str, str]
) -> None:
    sim = gitlab_sim
    before_merge = sim.branch_head(RULES_PROJECT)
    assert await live_version(serve) == before_merge

    # Step 3: a merge request changing the roll-over comment gets the check and the preview.
    proposed = pack_file("20-rollover.yaml").replace(ROLLOVER_SENTENCE, PROPOSED_SENTENCE)
    first = sim.seed_repository(RULES_PROJECT, {ROLLOVER: proposed}, BRANCH, user="alice")
    project = as_user(sim, "alice").projects.get(RULES_PROJECT, lazy=True)
    mr = project.mergerequests.create(
        {"source_branch": BRANCH, "target_branch": "main", "title": "Kinder roll-over comment"}
    )

    def checked(sha: str) -> bool:
        assert status_of(sim, sha) == "success", status_of(sim, sha)
        assert sha[:12] in check_note(sim, mr.iid)["body"]
        return True

    await eventually(lambda: checked(first), within_s=60)
    note = check_note(sim, mr.iid)
    items = rolling_items_of(sim, "Sprint 41")
    assert items and all(f"[{item}]" in note["body"] for item in items)
    assert PROPOSED_SENTENCE in note["body"]

    # A push to the merge request updates the same note.
    final = proposed.replace(PROPOSED_SENTENCE, "it was not finished when the sprint closed")
    second = sim.seed_repository(RULES_PROJECT, {ROLLOVER: final}, BRANCH, user="alice")
    await eventually(lambda: checked(second), within_s=60)
    assert check_note(sim, mr.iid)["id"] == note["id"]

    # The merge puts the rules live; the next delivery uses them and names the merged commit.
    mr.merge()
    merged = sim.branch_head(RULES_PROJECT)
    assert merged != before_merge

    async def live_is_merged() -> bool:
        assert await live_version(serve) == merged
        return True

    await eventually(live_is_merged, within_s=30)
    close_milestone(sim, "Sprint 42")
    store = await settled(sim, env)
    try:
        delivery = await newest_delivery(store, "milestone")
    finally:
        await store.close()
    [comment] = [n for n in marked_notes(sim, "demo/product", 1) if "Rolled over" in n["body"]]
    assert "it was not finished when the sprint closed" in comment["body"]
    assert f"rules: {merged}" in await shown(env, delivery)

    # A broken push: the merged rules keep acting, and the commit gets the errors.
    broken = final.replace("  do:\n", "  doo:\n", 1)
    bad = sim.seed_repository(RULES_PROJECT, {ROLLOVER: broken}, user="bob")
    store = await settled(sim, env)
    await store.close()
    [refusal] = sim.commit_comments(RULES_PROJECT, bad)
    assert f"{ROLLOVER}:" in refusal["note"] and "unknown key 'doo'" in refusal["note"]
    assert await live_version(serve) == merged

    calm = next(
        i["iid"]
        for i in sim.issues("demo/product")
        if i["state"] == "opened" and not any(x.startswith("health::") for x in i["labels"])
    )
    issue = as_user(sim, "alice").projects.get("demo/product", lazy=True).issues.get(calm)
    issue.labels = [*issue.labels, "blocked"]
    issue.save()
    store = await settled(sim, env)
    try:
        delivery = await newest_delivery(store, "issue")
    finally:
        await store.close()
    assert f"rules: {merged}" in await shown(env, delivery)
    assert "Needs Attention" in marked_notes(sim, "demo/product", calm)[-1]["body"]
