"""A rule whose actions keep failing pauses itself, tells its owner once, and resumes when
an admin says so or a changed version of it is loaded; the pause is in the database."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from pydantic import SecretStr

from hooks.actions.base import PlannedAction
from hooks.actions.comment import CommentParams
from hooks.actions.executor import ActionOutcome
from hooks.rules.loader import RuleErrors, load_rules
from hooks.service.config import Settings
from hooks.service.context import SERVICE
from hooks.storage.breakers import Attempt, BreakerStore
from hooks.storage.store import Store
from hooks.testing.seeds import sprint_seed
from hooks.testing.sim_faults import Fault
from hooks.testing.simulator import Simulator, SimulatorThread
from tests.conftest import SECRET
from tests.e2e import (
    as_user,
    hooked_service,
    marked_notes,
    service_settings,
    settle,
    start_service,
    store_of,
)

ADMIN = "admin-token-for-breaker-tests"
RULE = "comment-on-blocked"
RULES = f"""rules:
- name: {RULE}
  owner: carol
  on: {{issue: [update]}}
  if: {{label_added: [blocked]}}
  do: [{{comment: "Blocked: what does it need?"}}]
"""
# GitLab refuses every comment in demo/product (the owner's issue goes to demo/ops).
REFUSED_COMMENTS = Fault(
    method="POST",
    path="/api/v4/projects/demo%2Fproduct/issues/*/notes",
    error_rate=1.0,
    statuses=(403,),
)
TITLE = f"Automation rule {RULE} paused itself"


def seed() -> dict[str, Any]:
    found = sprint_seed([{"title": f"Item {n}"} for n in range(1, 16)])
    found["users"].append({"username": "carol", "token": "carol-token"})
    found["projects"].append({"path": "demo/ops"})
    return found


@pytest.fixture
def sim() -> Any:
    simulator = Simulator(seed())
    with SimulatorThread(simulator):
        yield simulator


def settings_for(sim: Simulator, tmp_path: Path, rules: str = RULES) -> Settings:
    return service_settings(
        sim,
        tmp_path,
        rules,
        admin_token=SecretStr(ADMIN),
        alert_project="demo/ops",
        watchdog_interval_s=0,
        reconcile_interval_s=0,
    )


@pytest.fixture
async def service(sim: Simulator, tmp_path: Path) -> AsyncIterator[TestServer]:
    server = await hooked_service(sim, settings_for(sim, tmp_path), project="demo/product")
    try:
        yield server
    finally:
        await server.close()


async def block(sim: Simulator, server: TestServer, iid: int) -> None:
    """alice labels demo/product#iid 'blocked'; wait until the service has processed it."""
    issue = as_user(sim, "alice").projects.get("demo/product", lazy=True).issues.get(iid)
    issue.labels = [*issue.labels, "blocked"]
    issue.save()
    await settle(sim, store_of(server))


async def last_trace(server: TestServer) -> list[dict[str, Any]]:
    store = store_of(server)
    [newest] = await store.list_deliveries(limit=1)
    return await store.audit_for(delivery_id=newest.id)


async def readyz(server: TestServer) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as http, http.get(server.make_url("/readyz")) as answer:
        return answer.status, await answer.json()


async def admin_post(server: TestServer, path: str, token: str = ADMIN) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"}
    async with (
        aiohttp.ClientSession() as http,
        http.post(server.make_url(path), headers=headers) as answer,
    ):
        return answer.status, await answer.json()


def owner_issues(sim: Simulator) -> list[dict[str, Any]]:
    return [i for i in sim.issues("demo/ops") if i["title"] == TITLE]


async def pause(sim: Simulator, server: TestServer, first_iid: int = 1) -> None:
    """Five refused comments in a row."""
    for iid in range(first_iid, first_iid + 5):
        await block(sim, server, iid)


# -- pausing ------------------------------------------------------------------------------


async def test_five_failures_in_a_row_pause_the_rule_and_the_sixth_event_plans_nothing(
    sim: Simulator, service: TestServer
) -> None:
    sim.faults.add(REFUSED_COMMENTS)
    await pause(sim, service)
    sim.clear_requests()

    await block(sim, service, 6)

    trace = await last_trace(service)
    [rule_line] = [line for line in trace if line["kind"] == "rule" and line["rule"] == RULE]
    assert rule_line["outcome"] == "not_matched"
    reason = rule_line["detail"]["reason"]
    assert reason.startswith("rule paused: 5 actions failed in a row; last: comment on")
    assert "403" in reason
    assert not [line for line in trace if line["kind"] == "action"]
    assert not [r for r in sim.recorded(method="POST") if "/notes" in r.path]


async def test_a_paused_rule_is_said_in_readyz_metrics_and_one_owner_issue(
    sim: Simulator, service: TestServer
) -> None:
    sim.faults.add(REFUSED_COMMENTS)
    await pause(sim, service)

    status, body = await readyz(service)
    async with (
        aiohttp.ClientSession() as http,
        http.get(service.make_url("/metrics")) as answer,
    ):
        metrics = await answer.text()

    assert status == 200 and body["ready"] is True  # degraded, not out of rotation
    breakers = body["checks"]["breakers"]
    assert breakers["ok"] is True
    assert breakers["detail"].startswith(f"1 paused: {RULE} (5 actions failed in a row")
    assert f'hooks_rule_paused{{rule="{RULE}"}} 1.0' in metrics
    [issue] = owner_issues(sim)
    assert [a["username"] for a in issue["assignees"]] == ["carol"]
    assert "@carol" in issue["description"] and "403" in issue["description"]
    assert f"POST /admin/rules/{RULE}/resume" in issue["description"]


async def test_a_success_in_between_sets_the_count_back(
    sim: Simulator, service: TestServer
) -> None:
    fault = sim.faults.add(REFUSED_COMMENTS)
    for iid in range(1, 5):
        await block(sim, service, iid)
    sim.faults.remove(fault)
    await block(sim, service, 5)  # this comment is posted
    sim.faults.add(REFUSED_COMMENTS)
    for iid in range(6, 10):
        await block(sim, service, iid)

    _status, body = await readyz(service)
    trace = await last_trace(service)
    assert body["checks"]["breakers"]["detail"] == "no rule paused"
    assert [line["outcome"] for line in trace if line["kind"] == "action"] == ["failed"]
    assert len(marked_notes(sim, "demo/product", 5)) == 1
    assert owner_issues(sim) == []


# -- resuming -----------------------------------------------------------------------------


async def test_an_admin_resumes_a_paused_rule_through_the_api(
    sim: Simulator, service: TestServer
) -> None:
    fault = sim.faults.add(REFUSED_COMMENTS)
    await pause(sim, service)
    sim.faults.remove(fault)

    no_token = await admin_post(service, f"/admin/rules/{RULE}/resume", token="wrong")
    unknown = await admin_post(service, "/admin/rules/no-such-rule/resume")
    resumed = await admin_post(service, f"/admin/rules/{RULE}/resume")
    again = await admin_post(service, f"/admin/rules/{RULE}/resume")
    await block(sim, service, 6)

    assert no_token[0] == 403
    assert unknown == (404, {"error": "no rule 'no-such-rule' is loaded"})
    assert resumed == (200, {"rule": RULE, "resumed": True})
    assert again == (409, {"error": f"rule '{RULE}' is not paused"})
    assert len(marked_notes(sim, "demo/product", 6)) == 1
    [issue] = owner_issues(sim)
    notes = [n["body"] for n in sim.notes("demo/ops", issue["iid"])]
    assert [n for n in notes if n.startswith("Resumed (admin (API)): the rule plans again")]
    _status, body = await readyz(service)
    assert body["checks"]["breakers"]["detail"] == "no rule paused"


async def test_an_admin_resumes_a_paused_rule_from_the_dashboard(
    sim: Simulator, service: TestServer
) -> None:
    fault = sim.faults.add(REFUSED_COMMENTS)
    await pause(sim, service)
    sim.faults.remove(fault)

    # A cookie jar that keeps cookies of an IP address (the service is on 127.0.0.1).
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        await http.post(service.make_url("/ui/login"), data={"token": ADMIN, "next": "/ui/rules"})
        async with http.get(service.make_url("/ui/rules")) as page:
            html = await page.text()
        csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', html)
        assert csrf is not None
        async with http.post(
            service.make_url(f"/ui/rules/{RULE}/resume"), data={"csrf": csrf.group(1)}
        ) as answer:
            after = await answer.text()
    await block(sim, service, 6)

    assert f'id="paused-{RULE}"' in html and "5 actions failed in a row" in html
    assert ">demo/ops#1</a>" in html  # the owner's issue, linked
    assert f'id="resume-{RULE}"' in html
    assert f"Rule {RULE} resumed" in after and f'id="paused-{RULE}"' not in after
    assert len(marked_notes(sim, "demo/product", 6)) == 1


async def test_a_changed_version_of_the_rule_resumes_it_and_an_unchanged_reload_does_not(
    sim: Simulator, service: TestServer, tmp_path: Path
) -> None:
    sim.faults.add(REFUSED_COMMENTS)
    await pause(sim, service)

    unchanged = await admin_post(service, "/admin/rules/reload")
    _status, still = await readyz(service)
    (tmp_path / "rules" / "rules.yaml").write_text(
        RULES.replace("what does it need?", "what does it need, and from whom?")
    )
    changed = await admin_post(service, "/admin/rules/reload")
    _status, after = await readyz(service)

    assert unchanged == (200, {"reloaded": True, "rules": 1})
    assert still["checks"]["breakers"]["detail"].startswith(f"1 paused: {RULE}")
    assert changed == (200, {"reloaded": True, "rules": 1})
    assert after["checks"]["breakers"]["detail"] == "no rule paused"


async def test_pausing_again_updates_the_owner_issue_instead_of_opening_another(
    sim: Simulator, service: TestServer
) -> None:
    sim.faults.add(REFUSED_COMMENTS)
    await pause(sim, service)
    await admin_post(service, f"/admin/rules/{RULE}/resume")
    await pause(sim, service, first_iid=6)

    [issue] = owner_issues(sim)
    notes = [n["body"] for n in sim.notes("demo/ops", issue["iid"])]
    assert [n for n in notes if n.startswith("Paused again. Why: 5 actions failed in a row")]


async def test_the_pause_survives_a_restart(sim: Simulator, tmp_path: Path) -> None:
    settings = settings_for(sim, tmp_path)
    server = await start_service(settings)
    hook = sim.add_hook(str(server.make_url("/webhook")), SECRET, project="demo/product")
    sim.faults.add(REFUSED_COMMENTS)
    try:
        await pause(sim, server)
    finally:
        await server.close()
    sim.faults.clear()

    restarted = await start_service(settings)
    sim.state.hooks[hook]["url"] = str(restarted.make_url("/webhook"))
    try:
        _status, body = await readyz(restarted)
        await block(sim, restarted, 6)
        trace = await last_trace(restarted)
    finally:
        await restarted.close()

    assert body["checks"]["breakers"]["detail"].startswith(f"1 paused: {RULE}")
    [rule_line] = [line for line in trace if line["kind"] == "rule"]
    assert rule_line["detail"]["reason"].startswith("rule paused: 5 actions failed in a row")
    assert marked_notes(sim, "demo/product", 6) == []
    assert len(owner_issues(sim)) == 1


# -- the shared state, on both databases ---------------------------------------------------


async def test_breaker_state_counts_pauses_and_resumes_on_both_databases(
    database_url: str,
) -> None:
    store = Store.open(database_url)
    await store.migrate()
    states = BreakerStore(store)
    now = datetime(2026, 12, 5, 9, tzinfo=UTC)
    fail = Attempt(False, "comment on demo/product#1: 403 Forbidden")
    try:
        counted = [
            await states.count(RULE, [fail] * 4, now=now, pause_after=5, digest="v1"),
            await states.count(RULE, [Attempt(True)], now=now, pause_after=5, digest="v1"),
            await states.count(RULE, [fail] * 4, now=now, pause_after=5, digest="v1"),
        ]
        _five, paused = await states.count(RULE, [fail], now=now, pause_after=5, digest="v1")
        _still, more = await states.count(RULE, [fail], now=now, pause_after=5, digest="v1")
        resumed = await states.resume(RULE, now=now, by="admin")
        not_paused = await states.resume(RULE, now=now, by="admin")
        after = await states.get(RULE)
    finally:
        await store.close()

    assert counted == [(4, None), (0, None), (4, None)]
    assert paused is not None and paused.failures == 5 and paused.digest == "v1"
    assert paused.reason == "5 actions failed in a row; last: " + str(fail.error)
    assert more is None  # counted no further while paused
    assert resumed is not None and not resumed.paused and resumed.resumed_by == "admin"
    assert not_paused is None
    assert after is not None and after.failures == 0


async def test_two_replicas_count_into_one_breaker_and_both_honour_the_pause(
    sim: Simulator, tmp_path: Path, postgres_url: str
) -> None:
    settings = settings_for(sim, tmp_path).model_copy(update={"database_url": postgres_url})
    first, second = await start_service(settings), await start_service(settings)
    hook = sim.add_hook(str(first.make_url("/webhook")), SECRET, project="demo/product")

    def deliver_to(server: TestServer) -> None:
        with sim.lock:
            sim.state.hooks[hook]["url"] = str(server.make_url("/webhook"))

    sim.faults.add(REFUSED_COMMENTS)
    try:
        for iid, replica in ((1, first), (2, second), (3, first), (4, second), (5, first)):
            deliver_to(replica)
            await block(sim, replica, iid)
        _status, on_second = await readyz(second)
        deliver_to(second)
        await block(sim, second, 6)
        trace = await last_trace(second)
    finally:
        await first.close()
        await second.close()

    assert on_second["checks"]["breakers"]["detail"].startswith(f"1 paused: {RULE}")
    [rule_line] = [line for line in trace if line["kind"] == "rule"]
    assert rule_line["detail"]["reason"].startswith("rule paused: 5 actions failed in a row")
    assert len(owner_issues(sim)) == 1


def test_a_bad_owner_or_pause_after_is_refused_with_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "rules.yaml").write_text(
        RULES.replace("owner: carol", 'owner: "not a user!"\n  pause_after: -1')
    )

    with pytest.raises(RuleErrors) as refused:
        load_rules(tmp_path)

    assert [str(e) for e in refused.value.errors] == [
        f"{tmp_path / 'rules.yaml'}:3: rule '{RULE}': owner: 'not a user!' is not a GitLab"
        " username (e.g. alice or @alice)",
        f"{tmp_path / 'rules.yaml'}:4: rule '{RULE}': pause_after: Input should be greater than"
        " or equal to 0",
    ]


async def test_failures_of_something_that_is_not_a_rule_pause_nothing(
    sim: Simulator, service: TestServer
) -> None:
    # The approvals' own writes on their request issues are recorded as `@approvals`, which
    # no rule is called: five refusals in a row must not pause it or open an owner's issue.
    runtime = service.app[SERVICE].runtime
    assert runtime is not None
    refused = PlannedAction(
        rule="@approvals",
        action="comment",
        subject="demo/ops#1",
        project="demo/ops",
        iid=1,
        args=CommentParams(internal=False),
        text="Carried out.",
        key="k",
        dry_run=False,
    )

    for _ in range(6):
        await runtime.breaker.record([ActionOutcome(refused, "failed", error="403 Forbidden")])

    assert await runtime.breaker.paused() == {}
    assert owner_issues(sim) == [] and sim.issues("demo/ops") == []
