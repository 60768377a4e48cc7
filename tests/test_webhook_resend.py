"""Deliveries GitLab failed to send are resent from the hook's event log, within GitLab's
limit on resends, before reconciliation rebuilds anything; each one's effects happen once."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
import requests
from aiohttp.test_utils import TestServer
from pydantic import SecretStr

from hooks.catchup.jobs import RECONCILE, WatchJobs
from hooks.processing.worker import utcnow
from hooks.service.app import create_app
from hooks.service.config import Settings
from hooks.service.context import SERVICE
from hooks.testing.clock import FakeClock
from hooks.testing.seeds import sprint_seed
from hooks.testing.simulator import Simulator, SimulatorThread
from hooks.testing.waiting import eventually
from tests.conftest import SECRET
from tests.e2e import as_user, marked_notes, service_settings, settle, store_of

ADMIN = "admin-token-for-resend-tests"
RULES = """rules:
- name: comment-on-blocked
  on: {issue: [update]}
  if: {label_added: [blocked]}
  do: [{comment: "Blocked: what does it need?"}]
"""
ISSUES = (1, 2, 3)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def sim() -> Any:
    simulator = Simulator(sprint_seed([{"title": f"Item {n}"} for n in ISSUES]))
    with SimulatorThread(simulator):
        yield simulator


class Down:
    """A service address where nothing listens yet: GitLab's deliveries to it fail."""

    def __init__(self, sim: Simulator, scope: str = "demo/product") -> None:
        self.port = free_port()
        self.scope = scope
        where = {"group": scope} if "/" not in scope else {"project": scope}
        self.hook_id = sim.add_hook(f"http://127.0.0.1:{self.port}/webhook", SECRET, **where)

    def settings(self, sim: Simulator, tmp_path: Path, **overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "admin_token": SecretStr(ADMIN),
            "watched_hooks": f"{self.scope}:{self.hook_id}",
            "watchdog_interval_s": 0,
            "reconcile_interval_s": 0,
            "silence_after_s": 0,
            **overrides,
        }
        return service_settings(sim, tmp_path, RULES, **values)

    async def start(self, settings: Settings) -> TestServer:
        """The service comes back, on the address GitLab delivers to."""
        server = TestServer(create_app(settings), host="127.0.0.1", port=self.port)
        await server.start_server()
        return server


def block_while_down(sim: Simulator) -> None:
    """alice labels each issue 'blocked' while the service is down: every delivery fails."""
    project = as_user(sim, "alice").projects.get("demo/product", lazy=True)
    for iid in ISSUES:
        issue = project.issues.get(iid)
        issue.labels = ["blocked"]
        issue.save()
    assert sim.wait_webhooks_idle(10)


def jobs_of(server: TestServer) -> WatchJobs:
    runtime = server.app[SERVICE].runtime
    assert runtime is not None and runtime.watch_jobs is not None
    return runtime.watch_jobs


def resend_requests(sim: Simulator) -> list[int]:
    """The status GitLab answered to each resend request, in order."""
    return [r.status for r in sim.recorded(method="POST") if r.path.endswith("/resend")]


@pytest.fixture
async def stopped(sim: Simulator) -> AsyncIterator[Down]:
    down = Down(sim)
    block_while_down(sim)
    yield down


# -- end to end ------------------------------------------------------------------------------


@pytest.mark.parametrize("scope", ["demo/product", "demo"], ids=["project-hook", "group-hook"])
async def test_deliveries_failed_while_the_service_was_down_are_resent_and_act_once(
    sim: Simulator, tmp_path: Path, scope: str
) -> None:
    stopped = Down(sim, scope)
    block_while_down(sim)
    failed = [e["response_status"] for e in sim.webhooks.log(stopped.hook_id)]
    server = await stopped.start(stopped.settings(sim, tmp_path, watchdog_interval_s=0.3))
    try:

        async def every_issue_answered_once() -> bool:
            return all(len(marked_notes(sim, "demo/product", iid)) == 1 for iid in ISSUES)

        await eventually(every_issue_answered_once, within_s=30)
        await settle(sim, store_of(server))
        # Resent once more by hand from GitLab's log: the same delivery, stored once.
        first = sim.webhooks.log(stopped.hook_id)[0]["id"]
        again = await asyncio.to_thread(
            requests.post,
            f"{sim.url}/api/v4/{'projects' if '/' in scope else 'groups'}/"
            f"{quote(scope, safe='')}/hooks/{stopped.hook_id}/events/{first}/resend",
            headers={"PRIVATE-TOKEN": sim.bot_token},
            timeout=10,
        )  # from another thread: GitLab answers once this service has
        await settle(sim, store_of(server))
        stored = await store_of(server).list_deliveries()
        async with (
            aiohttp.ClientSession() as http,
            http.get(
                server.make_url("/ui/schedules"), headers={"Authorization": f"Bearer {ADMIN}"}
            ) as page,
        ):
            html = await page.text()
    finally:
        await server.close()

    assert failed == ["internal error"] * 3
    assert (again.status_code, again.json()) == (201, {"response_status": 202})
    assert len(stored) == 3 and all(d.status == "done" for d in stored)
    assert all(len(marked_notes(sim, "demo/product", iid)) == 1 for iid in ISSUES)
    resent = html.split('id="resent-events"', 1)[1]
    assert resent.count(f"<td>{scope}:{stopped.hook_id}</td>") == 3
    assert resent.count(">resent</td><td>202</td>") == 3


async def test_resending_comes_before_the_sweep_which_then_rebuilds_nothing(
    sim: Simulator, stopped: Down, tmp_path: Path
) -> None:
    server = await stopped.start(stopped.settings(sim, tmp_path))
    try:
        outcome = await jobs_of(server).run(RECONCILE, utcnow().replace(microsecond=0))
        await settle(sim, store_of(server))
        metrics = server.app[SERVICE].metrics.render().decode()
    finally:
        await server.close()

    assert outcome == "done"
    assert all(len(marked_notes(sim, "demo/product", iid)) == 1 for iid in ISSUES)
    # The three label changes were covered by the resent deliveries: nothing rebuilt them
    # (a comment rebuilt by the sweep has a key of its own and would have been a second one).
    assert 'hooks_reconcile_items_total{outcome="skipped"} 3.0' in metrics


async def test_a_delivery_the_sweep_already_acted_on_is_not_resent(
    sim: Simulator, stopped: Down, tmp_path: Path
) -> None:
    issue = as_user(sim, "alice").projects.get("demo/product", lazy=True).issues.get(3)
    issue.labels = ["blocked", "later"]
    issue.save()  # a fourth failed delivery: GitLab disables the hook
    assert sim.wait_webhooks_idle(10)
    server = await stopped.start(stopped.settings(sim, tmp_path))
    try:
        jobs = jobs_of(server)
        await jobs.watchdog.check()
        await jobs.run(RECONCILE, utcnow().replace(microsecond=0))  # nothing resent: disabled
        await settle(sim, store_of(server))
        with sim.lock:  # GitLab's back-off is over
            sim.state.hooks[stopped.hook_id].update(alert_status="executable", disabled_until=None)
        [hook] = await jobs.watchdog.check()
        await settle(sim, store_of(server))
    finally:
        await server.close()

    assert resend_requests(sim) == []
    assert all(len(marked_notes(sim, "demo/product", iid)) == 1 for iid in ISSUES)
    assert hook.recent_failures == 4


# -- GitLab's limit on resends --------------------------------------------------------------


async def test_a_pass_resends_no_more_than_gitlab_allows_and_the_rest_after_the_minute(
    sim: Simulator, stopped: Down, tmp_path: Path
) -> None:
    clock = FakeClock()
    sim.webhooks.resend_limit = 2  # an instance whose administrator set the limit lower
    sim.webhooks.clock = clock.monotonic
    server = await stopped.start(stopped.settings(sim, tmp_path, resend_per_minute=2))
    try:
        watchdog = jobs_of(server).watchdog
        assert watchdog.resender is not None
        watchdog.resender.now = clock
        [first] = await watchdog.check()
        await settle(sim, store_of(server))
        answered = sum(len(marked_notes(sim, "demo/product", iid)) for iid in ISSUES)
        clock.advance(timedelta(seconds=61))
        await watchdog.check()
        await settle(sim, store_of(server))
    finally:
        await server.close()

    assert resend_requests(sim) == [201, 201, 201]  # never a 429
    assert first.detail == "2 failed deliveries resent; 1 wait for GitLab's resend limit"
    assert answered == 2
    assert all(len(marked_notes(sim, "demo/product", iid)) == 1 for iid in ISSUES)


async def test_a_429_from_gitlab_ends_the_pass_and_the_delivery_waits(
    sim: Simulator, stopped: Down, tmp_path: Path
) -> None:
    sim.webhooks.resend_limit = 2  # lower than the service was told
    server = await stopped.start(stopped.settings(sim, tmp_path, resend_per_minute=5))
    try:
        [hook] = await jobs_of(server).watchdog.check()
        await settle(sim, store_of(server))
        metrics = server.app[SERVICE].metrics.render().decode()
    finally:
        await server.close()

    assert resend_requests(sim) == [201, 201, 429]
    assert hook.detail == "2 failed deliveries resent; 1 wait for GitLab's resend limit"
    name = f"demo/product:{stopped.hook_id}"
    assert f'hooks_webhook_resent_total{{hook="{name}",outcome="rate_limited"}} 1.0' in metrics
    assert sum(len(marked_notes(sim, "demo/product", iid)) for iid in ISSUES) == 2


# -- the simulator answers as GitLab does ---------------------------------------------------


def resend(sim: Simulator, hook_id: int, log_id: int, token: str | None = None) -> Any:
    return requests.post(
        f"{sim.url}/api/v4/projects/demo%2Fproduct/hooks/{hook_id}/events/{log_id}/resend",
        headers={"PRIVATE-TOKEN": token or sim.bot_token},
        timeout=10,
    )


def test_gitlab_resends_the_logged_request_with_its_idempotency_key(sim: Simulator) -> None:
    down = Down(sim)
    block_while_down(sim)
    [logged, *_] = sim.webhooks.log(down.hook_id)

    answer = resend(sim, down.hook_id, logged["id"])
    assert sim.wait_webhooks_idle(10)
    again = sim.webhooks.sent[-1]

    assert answer.status_code == 422  # still nobody listening: GitLab says it could not send
    assert again.body == logged["request_data"]
    sent_key = again.headers["Idempotency-Key"]
    assert sent_key == logged["request_headers"]["Idempotency-Key"]
    assert again.headers["X-Gitlab-Event"] == "Issue Hook"
    assert sim.webhooks.log(down.hook_id)[-1]["response_status"] == "internal error"


def test_gitlab_refuses_resends_it_cannot_make(sim: Simulator) -> None:
    down = Down(sim)
    block_while_down(sim)
    log_id = sim.webhooks.log(down.hook_id)[0]["id"]

    unknown = resend(sim, down.hook_id, 999)
    sim.state.hooks[down.hook_id]["url"] = "http://127.0.0.1:9/moved"
    moved = resend(sim, down.hook_id, log_id)
    limited = [resend(sim, down.hook_id, log_id).status_code for _ in range(4)]

    assert (unknown.status_code, unknown.json()) == (404, {"message": "404 Not found"})
    assert moved.status_code == 422
    assert moved.json() == {
        "message": "The hook URL has changed, and this log entry cannot be retried"
    }
    # Five a minute per project and user, 429 after: GitLab's throttle body.
    assert limited == [422, 422, 422, 429]
    assert resend(sim, down.hook_id, log_id).json() == {
        "message": {"error": "This endpoint has been requested too many times. Try again later."}
    }
    assert resend(sim, down.hook_id, log_id, token=sim.token_for("alice")).status_code == 422


def test_gitlab_does_not_resend_to_a_disabled_hook(sim: Simulator) -> None:
    down = Down(sim)
    block_while_down(sim)
    sim.state.hooks[down.hook_id].update(
        alert_status="temporarily_disabled",
        disabled_until=(utcnow() + timedelta(minutes=5)).isoformat(),
    )

    answer = resend(sim, down.hook_id, sim.webhooks.log(down.hook_id)[0]["id"])

    assert (answer.status_code, answer.json()) == (422, {"message": "Hook disabled"})


def test_the_event_log_takes_categories_together_and_at_most_20_a_page(sim: Simulator) -> None:
    down = Down(sim)
    block_while_down(sim)
    path = f"{sim.url}/api/v4/projects/demo%2Fproduct/hooks/{down.hook_id}/events"
    headers = {"PRIVATE-TOKEN": sim.bot_token}

    both = requests.get(
        path, params={"status": "client_failure,server_failure"}, headers=headers, timeout=5
    )
    too_many = requests.get(path, params={"per_page": 100}, headers=headers, timeout=5)

    assert [e["response_status"] for e in both.json()] == ["internal error"] * 3
    assert (too_many.status_code, too_many.json()) == (
        400,
        {"error": "per_page does not have a valid value"},
    )
