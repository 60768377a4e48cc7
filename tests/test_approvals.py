"""Approval above a size, end to end: the shipped roll-over (`approve_above: 50`), the service
and the simulator. A team member closes a sprint of 51 items; what they then see on GitLab."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from hooks.catchup.cli import reconcile
from hooks.service.context import SERVICE
from hooks.storage.approvals import ApprovalStore
from hooks.testing.sim_faults import Fault
from hooks.testing.simulator import Simulator, SimulatorThread
from hooks.testing.waiting import eventually
from tests.conftest import SECRET
from tests.e2e import (
    RULE_PACK,
    as_user,
    close_milestone,
    serve_rule_pack,
    service_settings,
    settle,
    start_service,
    store_of,
)

ITEMS = 51
ADMIN = "admin-token-0123456789"


def sprint_seed(size: int) -> dict[str, Any]:
    today = date.today()
    return {
        "users": [
            {"username": "hooks-bot", "token": "sim-token"},
            {"username": "alice", "token": "alice-token"},  # Maintainer (group demo)
            {"username": "bob", "token": "bob-token"},  # Developer
            {"username": "carol", "token": "carol-token"},  # Maintainer
        ],
        "groups": [{"path": "demo"}],
        "projects": [{"path": "demo/product"}, {"path": "demo/marketing"}],
        "members": [
            {"group": "demo", "user": "alice", "access_level": 40},
            {"group": "demo", "user": "bob", "access_level": 30},
            {"project": "demo/marketing", "user": "carol", "access_level": 40},
        ],
        "labels": [{"group": "demo", "title": "automation::approved", "color": "#1f75cb"}],
        "milestones": [
            {
                "group": "demo",
                "title": "Sprint 42",
                "start_date": str(today - timedelta(days=13)),
                "due_date": str(today - timedelta(days=1)),
            },
            {
                "group": "demo",
                "title": "Sprint 43",
                "start_date": str(today),
                "due_date": str(today + timedelta(days=13)),
            },
        ],
        "issues": [
            {"project": "demo/product", "title": f"Item {n}", "milestone": "Sprint 42"}
            for n in range(size)
        ],
    }


@pytest.fixture
def sim() -> Iterator[Simulator]:
    simulator = Simulator(sprint_seed(ITEMS))
    with SimulatorThread(simulator):
        yield simulator


@pytest.fixture
async def service(sim: Simulator, tmp_path: Path) -> AsyncIterator[TestServer]:
    server = await serve_rule_pack(sim, tmp_path, admin_token=ADMIN, approvals_interval_s=0.2)
    yield server
    await server.close()


def requests_opened(sim: Simulator) -> list[dict[str, Any]]:
    return [i for i in sim.issues("demo/marketing") if i["title"].startswith("Approval needed")]


def in_sprint(sim: Simulator, title: str) -> list[dict[str, Any]]:
    return [i for i in sim.issues("demo/product") if (i["milestone"] or {}).get("title") == title]


def label(sim: Simulator, user: str, iid: int, name: str = "automation::approved") -> None:
    """A team member adds a label to the request issue in the GitLab UI."""
    issue = as_user(sim, user).projects.get("demo/marketing", lazy=True).issues.get(iid)
    issue.labels = [*issue.labels, name]
    issue.save()


def bot_notes(sim: Simulator, iid: int) -> list[str]:
    return [n["body"] for n in sim.notes("demo/marketing", iid) if not n.get("system")]


async def sprint_closed(sim: Simulator, service: TestServer) -> dict[str, Any]:
    close_milestone(sim, "Sprint 42")
    await settle(sim, store_of(service))
    [request] = requests_opened(sim)
    return request


async def test_a_roll_over_of_51_items_opens_one_request_and_moves_nothing(
    sim: Simulator, service: TestServer
) -> None:
    request = await sprint_closed(sim, service)

    assert len(in_sprint(sim, "Sprint 42")) == ITEMS
    body = request["description"]
    assert "roll-over-first-time" in request["title"] and f"{ITEMS} items" in request["title"]
    assert body.count(f"]({sim.url}/demo/product/-/issues/") == ITEMS
    assert "(20-rollover.yaml:" in body
    assert "Maintainer" in body and "automation::approved" in body
    assert "/admin/approvals/1/approve" in body


async def test_a_maintainers_label_moves_each_item_once_and_closes_the_request(
    sim: Simulator, service: TestServer
) -> None:
    request = await sprint_closed(sim, service)

    label(sim, "alice", request["iid"])
    await settle(sim, store_of(service))

    assert len(in_sprint(sim, "Sprint 43")) == ITEMS
    [row] = await ApprovalStore(store_of(service)).recent()
    moves = [r for r in row.outcome or [] if r["action"] == "move_to_milestone"]
    assert [r["status"] for r in moves] == ["done"] * ITEMS
    assert all(
        len([n for n in sim.notes("demo/product", i["iid"]) if "Rolled over" in n["body"]]) == 1
        for i in sim.issues("demo/product")
    )
    assert sim.issue("demo/marketing", request["iid"])["state"] == "closed"
    assert any(
        "Approved by @alice" in n and "0 skipped" in n for n in bot_notes(sim, request["iid"])
    )


async def test_a_developers_label_gets_a_refusal_note_and_moves_nothing(
    sim: Simulator, service: TestServer
) -> None:
    request = await sprint_closed(sim, service)

    label(sim, "bob", request["iid"])
    await settle(sim, store_of(service))

    assert len(in_sprint(sim, "Sprint 42")) == ITEMS
    [note] = bot_notes(sim, request["iid"])
    assert "Not approved: @bob has Developer (30)" in note
    assert "automation::approved" not in sim.issue("demo/marketing", request["iid"])["labels"]
    assert sim.issue("demo/marketing", request["iid"])["state"] == "opened"


async def test_an_unapproved_request_expires_and_is_closed_with_a_note(
    sim: Simulator, tmp_path: Path
) -> None:
    server = await serve_rule_pack(
        sim, tmp_path, approval_ttl_s=1.0, approvals_interval_s=0.2, admin_token=ADMIN
    )
    try:
        request = await sprint_closed(sim, server)

        closed = await eventually(
            lambda: sim.issue("demo/marketing", request["iid"])["state"] == "closed",
            within_s=15,
        )
        label(sim, "alice", request["iid"])
        await settle(sim, store_of(server))
        # The same close processed again (a replay): the run asks anew.
        async with aiohttp.ClientSession() as http:
            replay = server.make_url("/admin/deliveries/1/replay")
            async with http.post(replay, headers={"Authorization": f"Bearer {ADMIN}"}) as r:
                assert r.status == 202
        await settle(sim, store_of(server))
        asked_again = [i for i in requests_opened(sim) if i["iid"] != request["iid"]]
    finally:
        await server.close()

    assert closed
    assert len(in_sprint(sim, "Sprint 42")) == ITEMS
    expired, refused = bot_notes(sim, request["iid"])
    assert expired.startswith("Expired: not approved by")
    assert refused.startswith("Not carried out: this request expired")
    assert len(asked_again) == 1  # a new request issue, not the expired one reopened


async def test_an_item_changed_since_the_plan_is_skipped_and_said_so(
    sim: Simulator, service: TestServer
) -> None:
    request = await sprint_closed(sim, service)
    moved_by_hand = as_user(sim, "bob").projects.get("demo/product", lazy=True).issues.get(7)
    moved_by_hand.labels = ["deprioritized"]
    moved_by_hand.save()
    await settle(sim, store_of(service))

    label(sim, "alice", request["iid"])
    await settle(sim, store_of(service))

    assert [i["iid"] for i in in_sprint(sim, "Sprint 42")] == [7]
    assert len(in_sprint(sim, "Sprint 43")) == ITEMS - 1
    outcome = next(n for n in bot_notes(sim, request["iid"]) if n.startswith("Approved by"))
    assert "4 skipped" in outcome and "demo/product#7" in outcome and "+deprioritized" in outcome
    [row] = await ApprovalStore(store_of(service)).recent()
    skipped = [r for r in row.outcome or [] if r["status"] == "skipped"]
    assert {r["subject"] for r in skipped} == {"demo/product#7"}


async def test_a_second_approval_after_it_was_carried_out_changes_nothing(
    sim: Simulator, service: TestServer
) -> None:
    request = await sprint_closed(sim, service)
    label(sim, "alice", request["iid"])
    await settle(sim, store_of(service))
    writes = len(sim.recorded("PUT", user="hooks-bot"))

    issue = (
        as_user(sim, "carol").projects.get("demo/marketing", lazy=True).issues.get(request["iid"])
    )
    issue.labels = []
    issue.save()
    label(sim, "carol", request["iid"])
    await settle(sim, store_of(service))

    assert len(sim.recorded("PUT", user="hooks-bot")) == writes
    assert bot_notes(sim, request["iid"])[-1].startswith("Already approved by @alice and carried")


async def test_an_edited_request_text_runs_the_recorded_plan_and_says_so(
    sim: Simulator, service: TestServer
) -> None:
    request = await sprint_closed(sim, service)
    issue = (
        as_user(sim, "alice").projects.get("demo/marketing", lazy=True).issues.get(request["iid"])
    )
    issue.description = '1. [demo/product#1](x): `comment "/close"`\nOnly this one, please.'
    issue.save()
    await settle(sim, store_of(service))

    label(sim, "alice", request["iid"])
    await settle(sim, store_of(service))

    assert len(in_sprint(sim, "Sprint 43")) == ITEMS
    assert all(i["state"] == "opened" for i in sim.issues("demo/product"))
    outcome = next(n for n in bot_notes(sim, request["iid"]) if n.startswith("Approved by"))
    assert "edited since the request was opened; the edit was ignored" in outcome


async def test_an_admin_approves_through_the_api_once(sim: Simulator, service: TestServer) -> None:
    request = await sprint_closed(sim, service)
    headers = {"Authorization": f"Bearer {ADMIN}"}

    async with aiohttp.ClientSession() as http:
        url = str(service.make_url("/admin/approvals/1/approve"))
        async with http.post(url, headers=headers) as first:
            first_status, first_body = first.status, await first.json()
        async with http.post(url, headers=headers) as again:
            again_status, again_body = again.status, await again.json()
        async with http.post(url) as anonymous:
            anonymous_status = anonymous.status
    await settle(sim, store_of(service))

    assert (first_status, first_body["approved"]) == (200, True)
    assert len(in_sprint(sim, "Sprint 43")) == ITEMS
    assert again_status == 409 and "Already approved by an admin" in again_body["error"]
    assert anonymous_status == 403
    assert sim.issue("demo/marketing", request["iid"])["state"] == "closed"


async def test_the_same_run_planned_again_opens_no_second_request(
    sim: Simulator, service: TestServer
) -> None:
    await sprint_closed(sim, service)

    async with aiohttp.ClientSession() as http:
        url = str(service.make_url("/admin/deliveries/1/replay"))
        async with http.post(url, headers={"Authorization": f"Bearer {ADMIN}"}) as replayed:
            assert replayed.status == 202
    await settle(sim, store_of(service))

    assert len(requests_opened(sim)) == 1
    assert len(in_sprint(sim, "Sprint 42")) == ITEMS


async def test_the_dashboard_lists_requests_and_an_admin_approves_there(
    sim: Simulator, service: TestServer
) -> None:
    await sprint_closed(sim, service)
    changed = as_user(sim, "bob").projects.get("demo/product", lazy=True).issues.get(3)
    changed.state_event = "close"
    changed.save()
    await settle(sim, store_of(service))
    admin = {"Authorization": f"Bearer {ADMIN}"}

    async with aiohttp.ClientSession() as http:
        async with http.get(service.make_url("/ui/approvals"), headers=admin) as before:
            waiting = await before.text()
        async with http.post(
            service.make_url("/ui/approvals/1/approve"), headers=admin, allow_redirects=False
        ) as approved:
            location = approved.headers["Location"]
        await settle(sim, store_of(service))
        async with http.get(service.make_url(location), headers=admin) as after:
            shown = await after.text()

    assert "roll-over-first-time" in waiting and ">pending<" in waiting
    assert 'action="/ui/approvals/1/approve"' in waiting
    assert location == "/ui/approvals?message=Request+1+approved"
    assert "Request 1 approved" in shown and ">done<" in shown
    assert "skipped 4" in shown
    assert "demo/product#3 move_to_milestone: changed since the plan: state" in shown
    assert len(in_sprint(sim, "Sprint 43")) == ITEMS - 1


async def test_the_delivery_trace_says_the_run_waits_for_approval(
    sim: Simulator, service: TestServer
) -> None:
    await sprint_closed(sim, service)

    async with (
        aiohttp.ClientSession() as http,
        http.get(
            service.make_url("/ui/deliveries/1"), headers={"Authorization": f"Bearer {ADMIN}"}
        ) as trace,
    ):
        page = await trace.text()

    assert ">awaiting approval<" in page
    assert f"{ITEMS} items &gt; approve_above 50: none done, approval asked: request #1" in page
    assert 'href="/ui/approvals#approval-1"' in page


async def test_an_approval_project_gitlab_refuses_holds_the_run_and_says_why(
    sim: Simulator, tmp_path: Path
) -> None:
    server = await serve_rule_pack(sim, tmp_path, approval_project="demo/nowhere")
    try:
        close_milestone(sim, "Sprint 42")
        await settle(sim, store_of(server))
        audit = await store_of(server).audit_for(delivery_id=1)
    finally:
        await server.close()

    assert len(in_sprint(sim, "Sprint 42")) == ITEMS
    [held] = [a for a in audit if a["outcome"] == "awaiting_approval"]
    error = held["detail"]["error"]
    assert error.startswith("the request issue could not be opened in demo/nowhere: 404")
    assert "Project Not Found" in error


async def test_the_admin_api_lists_requests_with_their_outcome(
    sim: Simulator, service: TestServer
) -> None:
    request = await sprint_closed(sim, service)
    label(sim, "alice", request["iid"])
    await settle(sim, store_of(service))

    async with (
        aiohttp.ClientSession() as http,
        http.get(
            service.make_url("/admin/approvals"), headers={"Authorization": f"Bearer {ADMIN}"}
        ) as listed,
    ):
        [shown] = (await listed.json())["approvals"]

    assert (shown["rule"], shown["status"], shown["items"]) == ("roll-over-first-time", "done", 51)
    assert shown["decided_by"] == "alice"
    assert shown["issue"].endswith(f"/demo/marketing/-/issues/{request['iid']}")
    assert {r["status"] for r in shown["outcome"]} == {"done"}


async def test_the_daily_sweep_asks_once_and_asks_nothing_more_while_the_request_waits(
    sim: Simulator, tmp_path: Path
) -> None:
    # GitLab before 18.2 sends no milestone event: the scheduled sweep finds the closed sprint.
    server = await start_service(service_settings(sim, tmp_path, RULE_PACK, admin_token=ADMIN))
    scheduler = server.app[SERVICE].runtime.scheduler
    try:
        close_milestone(sim, "Sprint 42")
        today = datetime.now(UTC).replace(hour=5, minute=30, second=0, microsecond=0)
        first = await scheduler.fire("roll-over-first-time", today)
        second = await scheduler.fire("roll-over-first-time", today + timedelta(days=1))
        opened = requests_opened(sim)
        async with (
            aiohttp.ClientSession() as http,
            http.post(
                server.make_url("/admin/approvals/1/approve"),
                headers={"Authorization": f"Bearer {ADMIN}"},
            ) as approved,
        ):
            status = approved.status
    finally:
        await server.close()

    assert (first, second) == ("done", "done")
    assert len(opened) == 1 and "schedule:roll-over-first-time@" in opened[0]["description"]
    assert status == 200
    assert len(in_sprint(sim, "Sprint 43")) == ITEMS


async def test_on_postgresql_a_maintainers_label_moves_each_item_once(
    sim: Simulator, tmp_path: Path, postgres_url: str
) -> None:
    server = await serve_rule_pack(sim, tmp_path, database_url=postgres_url)
    try:
        request = await sprint_closed(sim, server)
        label(sim, "carol", request["iid"])  # Maintainer of the project itself
        await settle(sim, store_of(server))
        [row] = await ApprovalStore(store_of(server)).recent()
    finally:
        await server.close()

    assert len(in_sprint(sim, "Sprint 43")) == ITEMS
    assert (row.status, row.decided_by) == ("done", "carol")
    assert [r["status"] for r in row.outcome or []] == ["done"] * (ITEMS * 4)


async def test_a_label_whose_webhook_was_lost_is_found_by_the_periodic_job(
    tmp_path: Path,
) -> None:
    # The simulator's clock runs 3 minutes behind: the label was added "3 minutes ago".
    sim = Simulator(sprint_seed(ITEMS), now=lambda: datetime.now(UTC) - timedelta(minutes=3))
    with SimulatorThread(sim):
        settings = service_settings(sim, tmp_path, RULE_PACK, approvals_interval_s=0)
        server = await start_service(settings)  # no webhook: GitLab sends the service nothing
        runtime = server.app[SERVICE].runtime
        try:
            close_milestone(sim, "Sprint 42")
            today = datetime.now(UTC).replace(hour=5, minute=30, second=0, microsecond=0)
            await runtime.scheduler.fire("roll-over-first-time", today)
            [request] = requests_opened(sim)
            label(sim, "alice", request["iid"])

            await runtime.approvals.sweep()
        finally:
            await server.close()

    assert len(in_sprint(sim, "Sprint 43")) == ITEMS
    assert sim.issue("demo/marketing", request["iid"])["state"] == "closed"
    assert bot_notes(sim, request["iid"])[-1].startswith("Approved by @alice (Maintainer (40))")


async def test_a_label_and_the_dashboard_at_once_carry_the_plan_out_once(
    sim: Simulator, service: TestServer
) -> None:
    request = await sprint_closed(sim, service)

    async with aiohttp.ClientSession() as http:
        url = service.make_url("/admin/approvals/1/approve")

        async def by_admin() -> tuple[int, dict[str, Any]]:
            async with http.post(url, headers={"Authorization": f"Bearer {ADMIN}"}) as answer:
                return answer.status, await answer.json()

        (status, body), _ = await asyncio.gather(
            by_admin(), asyncio.to_thread(label, sim, "alice", request["iid"])
        )
        await settle(sim, store_of(service))

    notes = bot_notes(sim, request["iid"])
    assert len([n for n in notes if n.startswith("Approved by")]) == 1
    if status in (200, 202):  # the dashboard won; the label was answered on the issue
        assert any(n.startswith("Already approved by an admin") for n in notes)
    else:
        assert status == 409 and "Already approved by @alice" in body["error"]
    assert all(
        len([n for n in sim.notes("demo/product", i["iid"]) if "Rolled over" in n["body"]]) == 1
        for i in sim.issues("demo/product")
    )
    assert len(in_sprint(sim, "Sprint 43")) == ITEMS


async def test_approving_an_unknown_request_says_so(service: TestServer) -> None:
    admin = {"Authorization": f"Bearer {ADMIN}"}

    async with aiohttp.ClientSession() as http:
        async with http.post(service.make_url("/admin/approvals/99/approve"), headers=admin) as r:
            unknown = (r.status, await r.json())
        async with http.post(service.make_url("/admin/approvals/x/approve"), headers=admin) as r:
            malformed = (r.status, await r.json())

    assert unknown == (404, {"error": "no approval request 99"})
    assert malformed == (400, {"error": "approval id must be a number"})


async def test_a_reconciliation_sweep_that_finds_the_closed_sprint_asks_too(
    tmp_path: Path,
) -> None:
    sim = Simulator(sprint_seed(ITEMS))
    with SimulatorThread(sim):
        # The group's hook points nowhere: GitLab's milestone event is lost, the sweep finds it.
        hook_id = sim.add_hook("http://127.0.0.1:9/webhook", SECRET, group="demo")
        close_milestone(sim, "Sprint 42")
        settings = service_settings(
            sim, tmp_path, RULE_PACK, watched_hooks=f"demo:{hook_id}", reconcile_interval_s=0
        )

        reports = await reconcile(settings, None, max_items=1_000)

    assert all(r.finished for r in reports)
    [request] = requests_opened(sim)
    assert f"{ITEMS} items" in request["title"] and "reconcile:" in request["description"]
    assert len(in_sprint(sim, "Sprint 42")) == ITEMS


async def test_a_role_the_bot_may_not_read_is_answered_not_guessed(
    sim: Simulator, service: TestServer
) -> None:
    request = await sprint_closed(sim, service)
    sim.faults.add(Fault(path="*/members/all/*", error_rate=1.0, statuses=(403,)))

    label(sim, "alice", request["iid"])
    await settle(sim, store_of(service))

    assert len(in_sprint(sim, "Sprint 42")) == ITEMS
    [note] = bot_notes(sim, request["iid"])
    assert note.startswith("Not approved: the bot could not read @alice's role in demo/marketing")


async def test_an_approval_gitlab_fails_part_way_is_finished_by_the_periodic_job(
    sim: Simulator, tmp_path: Path
) -> None:
    server = await serve_rule_pack(sim, tmp_path, admin_token=ADMIN, approvals_interval_s=0.2)
    try:
        request = await sprint_closed(sim, server)
        down = sim.faults.add(  # one item's writes fail until GitLab is back
            Fault(
                user="hooks-bot", method="PUT", path="*/issues/7", error_rate=1.0, statuses=(502,)
            )
        )
        async with aiohttp.ClientSession() as http:
            url = server.make_url("/admin/approvals/1/approve")
            async with http.post(url, headers={"Authorization": f"Bearer {ADMIN}"}) as answer:
                status, body = answer.status, await answer.json()
        sim.faults.remove(down)
        await eventually(
            lambda: sim.issue("demo/marketing", request["iid"])["state"] == "closed", within_s=30
        )
        await settle(sim, store_of(server))
    finally:
        await server.close()

    assert status == 503 and body["error"].startswith("approved; carrying it out is retried")
    assert len(in_sprint(sim, "Sprint 43")) == ITEMS
    assert all(
        len([n for n in sim.notes("demo/product", i["iid"]) if "Rolled over" in n["body"]]) == 1
        for i in sim.issues("demo/product")
    )
