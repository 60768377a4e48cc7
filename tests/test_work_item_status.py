"""Work item status end to end: `hooks serve` on the simulator, which sends GitLab's issue
hooks and answers GitLab's status GraphQL (statuses of the top-level group, the status widget,
`workItemUpdate` with `statusWidget`)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from hooks.testing import sim_statuses
from hooks.testing.sim_seed_demo import demo_seed
from hooks.testing.simulator import Simulator, SimulatorThread
from tests.conftest import SECRET
from tests.e2e import as_user, marked_notes, service_settings, settle, start_service, store_of

RULES = """
rules:
- name: doing-starts-work
  on: {issue: [update]}
  if: {label_added: [doing]}
  do: [{set_status: In progress}]
- name: shipped-is-done
  on: {issue: [update]}
  if: {label_added: [shipped]}
  do: [{set_status: done}]
- name: a-typo
  on: {issue: [update]}
  if: {label_added: [typo]}
  do: [{set_status: In progres}]
- name: nudge-while-in-progress
  on: {issue: [update]}
  if: {label_added: [nudge], status: {any: [in progress]}}
  do: [{comment: "Still in progress: anything blocking?"}]
"""


@pytest.fixture
async def service(gitlab_sim: Simulator, tmp_path: Path) -> AsyncIterator[TestServer]:
    server = await start_service(service_settings(gitlab_sim, tmp_path, RULES))
    gitlab_sim.add_hook(str(server.make_url("/webhook")), SECRET, group="demo")
    yield server
    await server.close()


def label(sim: Simulator, iid: int, name: str, user: str = "alice") -> None:
    issue = as_user(sim, user).projects.get("demo/product", lazy=True).issues.get(iid)
    issue.labels = [*issue.labels, name]
    issue.save()


def status_of(sim: Simulator, iid: int) -> str:
    with sim.lock:
        issue = sim.state.issue(sim.state.project("demo/product")["id"], iid)  # type: ignore[index]
        assert issue is not None
        status = sim_statuses.status_of(sim, issue)
        assert status is not None
        return str(status["name"])


async def rule_records(server: TestServer, rule: str) -> list[dict[str, Any]]:
    store = store_of(server)
    records = []
    for delivery in await store.list_deliveries(limit=20):
        trail = await store.audit_for(delivery_id=delivery.id)
        records += [r for r in trail if r["kind"] == "rule" and r.get("rule") == rule]
    return records


async def test_labelling_an_issue_sets_its_status_in_progress_through_graphql(
    gitlab_sim: Simulator, service: TestServer
) -> None:
    assert status_of(gitlab_sim, 1) == "To do"
    gitlab_sim.clear_requests()

    label(gitlab_sim, 1, "doing")
    await settle(gitlab_sim, store_of(service))

    assert status_of(gitlab_sim, 1) == "In progress"
    assert gitlab_sim.issue("demo/product", 1)["state"] == "opened"
    writes = gitlab_sim.recorded("POST", user="hooks-bot")
    assert [w.path for w in writes] == ["/api/graphql"] * len(writes) and writes
    assert not gitlab_sim.recorded("PUT", user="hooks-bot")  # no REST write: GitLab has none


async def test_setting_done_closes_the_issue(gitlab_sim: Simulator, service: TestServer) -> None:
    label(gitlab_sim, 2, "shipped")
    await settle(gitlab_sim, store_of(service))

    issue = gitlab_sim.issue("demo/product", 2)
    assert (issue["state"], status_of(gitlab_sim, 2)) == ("closed", "Done")
    assert issue["closed_by"]["username"] == "hooks-bot"


async def test_an_unknown_status_name_is_a_planning_error_listing_the_allowed_names(
    gitlab_sim: Simulator, service: TestServer
) -> None:
    label(gitlab_sim, 3, "typo")
    await settle(gitlab_sim, store_of(service))

    [record] = [r for r in await rule_records(service, "a-typo") if r["outcome"] == "error"]
    assert record["detail"]["error"] == (
        "PlanError: set_status: unknown status 'In progres' in demo; allowed: 'To do',"
        " 'In progress', 'Done', \"Won't do\", 'Duplicate'"
    )
    assert status_of(gitlab_sim, 3) == "To do"
    # Processed once, not retried: the rule's error is the delivery's partial outcome.
    [delivery] = await store_of(service).list_deliveries(limit=20)
    assert (delivery.status, delivery.attempts) == ("partial", 1)
    assert delivery.last_error is not None
    assert delivery.last_error.startswith("a-typo: PlanError: set_status: unknown status")


async def test_the_status_condition_reads_the_status_gitlab_has(
    gitlab_sim: Simulator, service: TestServer
) -> None:
    product = as_user(gitlab_sim, "bob").projects.get("demo/product", lazy=True)
    product.issues.get(4, lazy=True).notes.create({"body": '/status "in progress"'})
    label(gitlab_sim, 4, "nudge")
    label(gitlab_sim, 5, "nudge")  # To do: not nudged
    await settle(gitlab_sim, store_of(service))

    [note] = marked_notes(gitlab_sim, "demo/product", 4)
    assert note["body"].startswith("Still in progress")
    assert marked_notes(gitlab_sim, "demo/product", 5) == []
    [skipped] = [
        r
        for r in await rule_records(service, "nudge-while-in-progress")
        if (r["detail"]["reason"] or "").startswith("status")
    ]
    assert skipped["detail"]["reason"] == "status: 'To do' is not one of ['in progress']"


async def test_a_resent_delivery_sets_the_status_once(
    gitlab_sim: Simulator, service: TestServer
) -> None:
    label(gitlab_sim, 1, "doing")
    await settle(gitlab_sim, store_of(service))
    original = next(d for d in gitlab_sim.webhooks.sent if d.body["user"]["username"] == "alice")
    gitlab_sim.clear_requests()

    async with aiohttp.ClientSession() as session:
        resent = {**original.headers, "Idempotency-Key": "resent-by-hand"}
        url = str(service.make_url("/webhook"))
        answer = await session.post(url, data=json.dumps(original.body), headers=resent)
        assert (await answer.json())["duplicate"] is False
    await settle(gitlab_sim, store_of(service))

    assert status_of(gitlab_sim, 1) == "In progress"
    assert gitlab_sim.recorded("POST", user="hooks-bot") == []  # no GraphQL read or write
    trail = await store_of(service).audit_for(subject="demo/product#1")
    repeats = [r for r in trail if r["kind"] == "action" and r["detail"].get("earlier")]
    assert [r["detail"]["action"] for r in repeats] == ["set_status"]


async def test_a_groups_custom_statuses_replace_gitlabs_five(tmp_path: Path) -> None:
    seed = demo_seed(date.today())
    seed["statuses"] = [
        {"group": "demo", "name": "Backlog", "category": "to_do"},
        {"group": "demo", "name": "Doing", "category": "in_progress"},
        {"group": "demo", "name": "Shipped", "category": "done"},
    ]
    rules = RULES.replace("set_status: In progress", "set_status: Doing")
    sim = Simulator(seed)
    with SimulatorThread(sim):
        server = await start_service(service_settings(sim, tmp_path, rules))
        sim.add_hook(str(server.make_url("/webhook")), SECRET, group="demo")
        try:
            label(sim, 1, "doing")
            label(sim, 2, "shipped")  # "done" is not among the group's statuses
            await settle(sim, store_of(server))
            assert status_of(sim, 1) == "Doing"
            assert sim.issue("demo/product", 2)["state"] == "opened"
            [error] = [
                r for r in await rule_records(server, "shipped-is-done") if r["outcome"] == "error"
            ]
            assert "allowed: 'Backlog', 'Doing', 'Shipped'" in error["detail"]["error"]
        finally:
            await server.close()


async def test_a_status_deleted_in_gitlab_while_cached_fails_with_gitlabs_answer(
    tmp_path: Path,
) -> None:
    seed = demo_seed(date.today())
    seed["statuses"] = [
        {"group": "demo", "name": "Backlog", "category": "to_do"},
        {"group": "demo", "name": "In progress", "category": "in_progress"},
    ]
    sim = Simulator(seed)
    with SimulatorThread(sim):
        server = await start_service(service_settings(sim, tmp_path, RULES, status_cache_s=3600))
        sim.add_hook(str(server.make_url("/webhook")), SECRET, group="demo")
        try:
            label(sim, 1, "doing")
            await settle(sim, store_of(server))
            with sim.lock:  # a maintainer replaces the group's statuses (new ids)
                sim.state.custom_statuses["demo"].clear()
                sim_statuses.add_custom(sim, "demo", {"name": "Backlog", "category": "to_do"})
                sim_statuses.add_custom(
                    sim, "demo", {"name": "In progress", "category": "in_progress"}
                )
            label(sim, 2, "doing")
            await settle(sim, store_of(server))

            trail = await store_of(server).audit_for(subject="demo/product#2")
            [failed] = [r for r in trail if r["kind"] == "action"]
            assert (failed["outcome"], failed["detail"]["error"]) == (
                "failed",
                "422 Status doesn't exist.",
            )
            assert status_of(sim, 2) == "Backlog"
        finally:
            await server.close()


async def test_on_gitlab_free_set_status_is_a_planning_error_naming_the_tier(
    tmp_path: Path,
) -> None:
    seed = demo_seed(date.today())
    seed["groups"] = [{"path": "demo", "plan": "free"}]
    sim = Simulator(seed)
    with SimulatorThread(sim):
        server = await start_service(service_settings(sim, tmp_path, RULES))
        sim.add_hook(str(server.make_url("/webhook")), SECRET, group="demo")
        try:
            label(sim, 1, "doing")
            label(sim, 2, "nudge")
            await settle(sim, store_of(server))

            [error] = [
                r
                for r in await rule_records(server, "doing-starts-work")
                if r["outcome"] == "error"
            ]
            assert error["detail"]["error"] == (
                "PlanError: set_status: demo has no work item statuses"
                " (they need GitLab 18.2 or later, Premium or Ultimate)"
            )
            [nudge] = [
                r
                for r in await rule_records(server, "nudge-while-in-progress")
                if (r["detail"]["reason"] or "").startswith("status")
            ]
            assert nudge["detail"]["reason"] == (
                "status: none (no status widget: GitLab Free, or before 18.2)"
            )
            assert marked_notes(sim, "demo/product", 2) == []
        finally:
            await server.close()
