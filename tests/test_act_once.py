"""Deliveries end in the right changes on GitLab, each made once (against the simulator)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from hooks.testing.sim_faults import Fault
from hooks.testing.simulator import Simulator
from tests.conftest import SECRET
from tests.e2e import as_user, marked_notes, service_settings, settle, start_service, store_of

BLOCKED_RULE = """
rules:
- name: blocked-needs-attention
  on: {issue: [update]}
  if: {label_added: [blocked]}
  do:
    - set_health: needs_attention
    - comment: "Marked **Needs Attention**: this item is blocked. Flagging risk is not a negative."
"""

TITLE_RULE = """
rules:
- name: welcome
  on: {issue: [open]}
  do:
    - comment: "Thanks @alice, we track {{ issue.title }} here."
"""


@pytest.fixture
async def service(gitlab_sim: Simulator, tmp_path: Path) -> AsyncIterator[TestServer]:
    server = await start_service(service_settings(gitlab_sim, tmp_path, BLOCKED_RULE))
    gitlab_sim.add_hook(str(server.make_url("/webhook")), SECRET, group="demo")
    yield server
    await server.close()


def block(sim: Simulator, iid: int, project: str = "demo/product") -> None:
    issue = as_user(sim, "alice").projects.get(project, lazy=True).issues.get(iid)
    issue.labels = [*issue.labels, "blocked"]
    issue.save()


async def test_a_label_rule_acts_once_and_its_own_echo_does_not_loop(
    gitlab_sim: Simulator, service: TestServer
) -> None:
    gitlab_sim.webhooks.recursion_detection = False  # prove our own loop guard
    gitlab_sim.clear_requests()

    block(gitlab_sim, 1)
    await settle(gitlab_sim, store_of(service))

    issue = gitlab_sim.issue("demo/product", 1)
    assert "health::needs attention" in issue["labels"]
    notes = marked_notes(gitlab_sim, "demo/product", 1)
    assert len(notes) == 1
    assert "Flagging risk is not a negative" in notes[0]["body"]
    bot_calls = gitlab_sim.recorded(user="hooks-bot")
    # One PUT for the label, one POST for the note; the echoes made no call at all.
    assert [(c.method, c.status) for c in bot_calls] == [("PUT", 200), ("POST", 201)]
    echoes = [d for d in gitlab_sim.webhooks.sent if d.body["user"]["username"] == "hooks-bot"]
    assert echoes, "the simulator did echo the bot's own change"


async def test_the_api_calls_carry_the_deliverys_event_uuid(
    gitlab_sim: Simulator, service: TestServer
) -> None:
    block(gitlab_sim, 1)
    await settle(gitlab_sim, store_of(service))

    sent = next(d for d in gitlab_sim.webhooks.sent if d.body["user"]["username"] == "alice")
    writes = [c for c in gitlab_sim.recorded(user="hooks-bot") if c.method != "GET"]
    assert writes and {c.event_uuid for c in writes} == {sent.headers["X-Gitlab-Event-UUID"]}


async def test_gitlab_recursion_detection_stops_the_echo_of_the_bots_change(
    gitlab_sim: Simulator, service: TestServer
) -> None:
    block(gitlab_sim, 1)
    await settle(gitlab_sim, store_of(service))

    assert [d.body["user"]["username"] for d in gitlab_sim.webhooks.sent] == ["alice"]


async def test_a_resent_delivery_and_the_same_event_under_a_new_key_leave_one_comment(
    gitlab_sim: Simulator, service: TestServer
) -> None:
    block(gitlab_sim, 1)
    await settle(gitlab_sim, store_of(service))
    original = next(d for d in gitlab_sim.webhooks.sent if d.body["user"]["username"] == "alice")
    url = str(service.make_url("/webhook"))

    async with aiohttp.ClientSession() as session:
        again = await session.post(url, data=json.dumps(original.body), headers=original.headers)
        assert (await again.json())["duplicate"] is True
        new_key = {**original.headers, "Idempotency-Key": "manually-resent-1"}
        other = await session.post(url, data=json.dumps(original.body), headers=new_key)
        assert (await other.json())["duplicate"] is False
    await settle(gitlab_sim, store_of(service))

    assert len(marked_notes(gitlab_sim, "demo/product", 1)) == 1
    trail = await store_of(service).audit_for(subject="demo/product#1")
    repeats = [r for r in trail if r["kind"] == "action" and r["detail"].get("earlier")]
    assert len(repeats) == 2  # the label and the comment, both recognised as done


async def test_one_event_sent_by_a_group_hook_and_a_project_hook_at_once_is_acted_on_once(
    gitlab_sim: Simulator, service: TestServer
) -> None:
    gitlab_sim.add_hook(str(service.make_url("/webhook")), SECRET, project="demo/product")
    # Slow writes keep the two deliveries of the change in flight together in one process.
    gitlab_sim.faults.add(Fault(user="hooks-bot", method="POST", latency_s=0.3))

    block(gitlab_sim, 1)
    await settle(gitlab_sim, store_of(service))

    sent = [d for d in gitlab_sim.webhooks.sent if d.body["user"]["username"] == "alice"]
    assert len({d.headers["Idempotency-Key"] for d in sent}) == 2
    assert len(marked_notes(gitlab_sim, "demo/product", 1)) == 1


async def test_every_action_completes_once_through_errors_hangs_and_a_429_storm(
    gitlab_sim: Simulator, tmp_path: Path
) -> None:
    settings = service_settings(gitlab_sim, tmp_path, BLOCKED_RULE, gitlab_timeout_s=0.5)
    server = await start_service(settings)
    gitlab_sim.add_hook(str(server.make_url("/webhook")), SECRET, group="demo")
    try:
        bot = "hooks-bot"
        gitlab_sim.faults.add(
            Fault(user=bot, path="/api/v4/projects/*", error_rate=0.3, hang_rate=0.05, hang_s=2.0)
        )
        # An application limit: its 429s come unannounced, whatever the budget does.
        gitlab_sim.faults.add(
            Fault(user=bot, rate_limit_per_minute=3, window_s=1.0, application_limit=True)
        )
        targets = [1, 3, 4, 5, 6]
        for iid in targets:
            block(gitlab_sim, iid)
        await settle(gitlab_sim, store_of(server), within_s=90)
    finally:
        await server.close()

    for iid in targets:
        assert len(marked_notes(gitlab_sim, "demo/product", iid)) == 1, iid
        assert "health::needs attention" in gitlab_sim.issue("demo/product", iid)["labels"]
    statuses = {c.status for c in gitlab_sim.recorded(user="hooks-bot")}
    assert {429, 200, 201} <= statuses and statuses & {500, 502, 503}


async def test_a_title_smuggling_a_quick_action_and_a_mass_mention_is_posted_defused(
    gitlab_sim: Simulator, tmp_path: Path
) -> None:
    server = await start_service(service_settings(gitlab_sim, tmp_path, TITLE_RULE))
    gitlab_sim.add_hook(str(server.make_url("/webhook")), SECRET, group="demo")
    try:
        project = as_user(gitlab_sim, "bob").projects.get("demo/product", lazy=True)
        created = project.issues.create({"title": "Pricing\n/close\n@all please look"})
        await settle(gitlab_sim, store_of(server))
    finally:
        await server.close()

    issue = gitlab_sim.issue("demo/product", created.iid)
    assert issue["state"] == "opened"
    [note] = marked_notes(gitlab_sim, "demo/product", created.iid)
    assert "@all" not in note["body"]
    assert "Thanks @alice" in note["body"]  # the rule author's own mention stays
    assert "\n/close" not in note["body"]


COMMENT_EVERY_UPDATE = """
rules:
- name: chatty
  on: {issue: [update]}
  do: [{comment: "Update seen: {{ issue.title }}"}]
"""


async def test_a_runaway_rule_is_capped_per_subject_and_the_audit_says_why(
    gitlab_sim: Simulator, tmp_path: Path
) -> None:
    settings = service_settings(gitlab_sim, tmp_path, COMMENT_EVERY_UPDATE, subject_hourly_cap=2)
    server = await start_service(settings)
    gitlab_sim.add_hook(str(server.make_url("/webhook")), SECRET, group="demo")
    try:
        for n in range(4):
            issue = (
                as_user(gitlab_sim, "alice").projects.get("demo/product", lazy=True).issues.get(1)
            )
            issue.title = f"Title {n}"
            issue.save()
            await settle(gitlab_sim, store_of(server))
        trail = await store_of(server).audit_for(subject="demo/product#1")
    finally:
        await server.close()

    assert len(marked_notes(gitlab_sim, "demo/product", 1)) == 2
    capped = [r for r in trail if r["kind"] == "action" and r["outcome"] == "capped"]
    assert len(capped) == 2
    assert capped[0]["detail"]["error"] == "more than 2 writes to demo/product#1 in the last hour"


DRY = """
rules:
- name: shadow
  dry_run: true
  on: {issue: [update]}
  do:
    - add_labels: [shadowed]
    - comment: "Would say hello"
"""


@pytest.mark.parametrize("how", ["rule", "HOOKS_DRY_RUN"])
async def test_dry_run_records_what_would_be_done_and_writes_nothing(
    gitlab_sim: Simulator, tmp_path: Path, how: str
) -> None:
    rules = DRY if how == "rule" else DRY.replace("  dry_run: true\n", "")
    overrides = {"dry_run": True} if how == "HOOKS_DRY_RUN" else {}
    server = await start_service(service_settings(gitlab_sim, tmp_path, rules, **overrides))
    gitlab_sim.add_hook(str(server.make_url("/webhook")), SECRET, group="demo")
    try:
        gitlab_sim.clear_requests()
        issue = as_user(gitlab_sim, "alice").projects.get("demo/product", lazy=True).issues.get(1)
        issue.title = "Renamed"
        issue.save()
        await settle(gitlab_sim, store_of(server))
        trail = await store_of(server).audit_for(subject="demo/product#1")
    finally:
        await server.close()

    assert [r for r in gitlab_sim.recorded(user="hooks-bot") if r.method != "GET"] == []
    would = [r["detail"] for r in trail if r["kind"] == "action"]
    assert [d["action"] for d in would] == ["add_labels", "comment"]
    assert {r["outcome"] for r in trail if r["kind"] == "action"} == {"dry_run"}
    assert would[0]["params"] == {"labels": ["shadowed"]}
    assert would[1]["text"] == "Would say hello"


MISSING_TARGET = """
rules:
- name: to-nowhere
  on: {issue: [update]}
  do:
    - comment: {body: "Cross-post", target: "demo/product#999"}
    - add_labels: [still-done]
"""


async def test_a_refusal_retrying_cannot_fix_fails_that_action_with_gitlabs_message(
    gitlab_sim: Simulator, tmp_path: Path
) -> None:
    server = await start_service(service_settings(gitlab_sim, tmp_path, MISSING_TARGET))
    gitlab_sim.add_hook(str(server.make_url("/webhook")), SECRET, group="demo")
    try:
        issue = as_user(gitlab_sim, "alice").projects.get("demo/product", lazy=True).issues.get(1)
        issue.title = "Renamed"
        issue.save()
        await settle(gitlab_sim, store_of(server))
        [delivery] = await store_of(server).list_deliveries(limit=10)
    finally:
        await server.close()

    assert delivery.status == "partial" and delivery.attempts == 1
    assert "404 Issue Not Found" in (delivery.last_error or "")
    assert "still-done" in gitlab_sim.issue("demo/product", 1)["labels"]
