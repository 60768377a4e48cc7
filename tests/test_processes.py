"""The handbook's processes, end to end: the shipped rules, the service and the simulator.

Each test does what a team member does on GitLab and checks what they would then see.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from hooks.service.context import SERVICE
from hooks.testing.seeds import ended_sprint_seed
from hooks.testing.simulator import Simulator, SimulatorThread
from tests.conftest import SECRET
from tests.e2e import (
    RULE_PACK,
    as_user,
    close_milestone,
    marked_notes,
    serve_rule_pack,
    settle,
    store_of,
)


@pytest.fixture
async def service(gitlab_sim: Simulator, tmp_path: Path) -> AsyncIterator[TestServer]:
    server = await serve_rule_pack(gitlab_sim, tmp_path)
    yield server
    await server.close()


def product_issue(sim: Simulator, user: str, iid: int):  # type: ignore[no-untyped-def]
    return as_user(sim, user).projects.get("demo/product", lazy=True).issues.get(iid)


async def test_a_blocked_item_goes_to_needs_attention_with_an_explanation(
    gitlab_sim: Simulator, service: TestServer
) -> None:
    issue = product_issue(gitlab_sim, "alice", 1)
    issue.labels = [*issue.labels, "blocked"]
    issue.save()
    await settle(gitlab_sim, store_of(service))

    labels = gitlab_sim.issue("demo/product", 1)["labels"]
    assert "health::needs attention" in labels
    assert not {"health::on track", "health::at risk"} & set(labels)
    [note] = marked_notes(gitlab_sim, "demo/product", 1)
    assert "Flagging risk is not a negative" in note["body"]


async def test_a_confidential_sprint_item_gets_its_health_like_any_other(
    gitlab_sim: Simulator, service: TestServer
) -> None:
    # GitLab sends a confidential issue's events only as "Confidential Issue Hook".
    product = as_user(gitlab_sim, "alice").projects.get("demo/product", lazy=True)
    sprint = gitlab_sim.milestone("Sprint 42")
    created = product.issues.create(
        {"title": "Embargoed launch", "confidential": True, "milestone_id": sprint["id"]}
    )
    await settle(gitlab_sim, store_of(service))

    assert "health::on track" in gitlab_sim.issue("demo/product", created.iid)["labels"]


async def test_a_person_raising_health_is_not_overruled(
    gitlab_sim: Simulator, service: TestServer
) -> None:
    issue = product_issue(gitlab_sim, "alice", 1)
    issue.labels = [*issue.labels, "blocked"]
    issue.save()
    await settle(gitlab_sim, store_of(service))

    issue = product_issue(gitlab_sim, "alice", 1)
    issue.labels = [x for x in issue.labels if not x.startswith("health::")] + ["health::on track"]
    issue.save()
    issue = product_issue(gitlab_sim, "alice", 1)
    issue.title = "Refresh the competitive comparison (unblocked)"
    issue.save()
    await settle(gitlab_sim, store_of(service))

    assert "health::on track" in gitlab_sim.issue("demo/product", 1)["labels"]
    assert len(marked_notes(gitlab_sim, "demo/product", 1)) == 1


async def test_closing_a_sprint_rolls_its_open_items_into_the_next(
    gitlab_sim: Simulator, service: TestServer
) -> None:
    sprint = gitlab_sim.milestone("Sprint 42")
    group = as_user(gitlab_sim, "alice").groups.get("demo", lazy=True)
    open_items = [
        i
        for i in gitlab_sim.issues("demo/product") + gitlab_sim.issues("demo/marketing")
        if i["milestone"] and i["milestone"]["id"] == sprint["id"] and i["state"] == "opened"
    ]

    milestone = group.milestones.get(sprint["id"])
    milestone.state_event = "close"
    milestone.save()
    await settle(gitlab_sim, store_of(service))

    for item in open_items:
        path, iid = item["references"]["full"].split("#")
        now = gitlab_sim.issue(path, int(iid))
        assert now["milestone"]["title"] == "Sprint 43", item["title"]
        assert "rolled-over::1" in now["labels"]
        [note] = [n for n in marked_notes(gitlab_sim, path, int(iid)) if "Rolled over" in n["body"]]
        assert 'from %"Sprint 42" to %"Sprint 43"' in note["body"]


async def test_deprioritized_items_stay_behind_and_are_listed_once(
    gitlab_sim: Simulator, service: TestServer
) -> None:
    issue = product_issue(gitlab_sim, "alice", 2)
    issue.labels = [*issue.labels, "deprioritized"]
    issue.save()
    close_milestone(gitlab_sim, "Sprint 42")
    await settle(gitlab_sim, store_of(service))

    assert gitlab_sim.issue("demo/product", 2)["milestone"]["title"] == "Sprint 42"
    summaries = [
        i
        for i in gitlab_sim.issues("demo/product")
        if i["title"] == "Not rolled over from Sprint 42"
    ]
    assert len(summaries) == 1 and "Pricing page copy" in summaries[0]["description"]


async def test_a_priority_feature_gets_one_sister_issue_for_its_areas_pmm(
    gitlab_sim: Simulator, service: TestServer
) -> None:
    for _ in range(2):  # labelled, unlabelled, labelled again: still one sister issue
        issue = product_issue(gitlab_sim, "alice", 1)
        issue.labels = [*issue.labels, "release-priority"]
        issue.save()
        await settle(gitlab_sim, store_of(service))
        issue = product_issue(gitlab_sim, "alice", 1)
        issue.labels = [x for x in issue.labels if x != "release-priority"]
        issue.save()
        await settle(gitlab_sim, store_of(service))

    sisters = [
        i for i in gitlab_sim.issues("demo/marketing") if i["title"].startswith("Marketing: ")
    ]
    assert len(sisters) == 1
    [sister] = sisters
    assert [a["username"] for a in sister["assignees"]] == ["carol"]  # area::plan's PMM
    assert "Who is this feature for?" in sister["description"]
    assert "competitive landscape" in sister["description"]
    links = gitlab_sim.links("demo/product", 1)
    assert [link["target"] for link in links] and len(links) == 1
    [ask] = [n for n in marked_notes(gitlab_sim, "demo/product", 1) if "sister issue" in n["body"]]
    assert ask["body"].startswith("@bob")


async def test_a_release_gets_exactly_one_checklist_issue(
    gitlab_sim: Simulator, service: TestServer
) -> None:
    product = as_user(gitlab_sim, "alice").projects.get("demo/product", lazy=True)
    product.milestones.create({"title": "v18.6", "due_date": "2026-12-17"})
    await settle(gitlab_sim, store_of(service))
    release = json.loads((RULE_PACK / "fixtures" / "release.json").read_text())
    release["project"]["id"] = 1
    headers = {"X-Gitlab-Event": "Release Hook", "X-Gitlab-Token": SECRET}
    async with aiohttp.ClientSession() as session:
        await session.post(str(service.make_url("/webhook")), json=release, headers=headers)
    await settle(gitlab_sim, store_of(service))

    issues = [i for i in gitlab_sim.issues("demo/marketing") if "release" in i["labels"]]
    assert [i["title"] for i in issues] == ["Release v18.6"]
    assert "Each priority feature demoed" in issues[0]["description"]


async def test_retro_reminder_opens_the_retrospective_issue_once(
    gitlab_sim: Simulator, service: TestServer
) -> None:
    scheduler = service.app[SERVICE].runtime.scheduler  # type: ignore[union-attr]
    wednesday = datetime(2026, 12, 9, 9, 0, tzinfo=UTC)

    assert await scheduler.fire("retro-reminder", wednesday) == "done"
    assert await scheduler.fire("retro-reminder", wednesday) is None

    [retro] = [
        i
        for i in gitlab_sim.issues("demo/marketing")
        if i["title"].startswith("Sprint retrospective")
    ]
    assert retro["title"] == "Sprint retrospective 2026-12-09"
    for question in ("What went well?", "What could be improved?", "What do we commit to change"):
        assert question in retro["description"]
    assert "@alice @bob @carol @dave" in retro["description"]


async def test_a_training_request_goes_to_the_organiser_with_the_questions(
    gitlab_sim: Simulator, service: TestServer
) -> None:
    training = as_user(gitlab_sim, "bob").projects.get("demo/training", lazy=True)
    created = training.issues.create({"title": "Topic: value stream analytics"})
    await settle(gitlab_sim, store_of(service))

    issue = gitlab_sim.issue("demo/training", created.iid)
    assert [a["username"] for a in issue["assignees"]] == ["dave"]
    [note] = marked_notes(gitlab_sim, "demo/training", created.iid)
    assert "Who is the audience?" in note["body"]


async def test_a_case_study_gets_its_format_and_process_once(
    gitlab_sim: Simulator, service: TestServer
) -> None:
    issue = product_issue(gitlab_sim, "alice", 4)
    issue.labels = [*issue.labels, "case-study"]
    issue.save()
    await settle(gitlab_sim, store_of(service))
    issue = product_issue(gitlab_sim, "alice", 4)
    issue.title = "Case study: ACME"
    issue.save()
    await settle(gitlab_sim, store_of(service))

    notes = [
        n for n in marked_notes(gitlab_sim, "demo/product", 4) if "Case study format" in n["body"]
    ]
    assert len(notes) == 1 and "Final review" in notes[0]["body"]


def big_sprint(size: int) -> dict[str, Any]:
    """A sprint of `size` items that ended yesterday; alice is a Maintainer of demo (she
    approves big roll-overs)."""
    return {
        **ended_sprint_seed(size, "Sprint 42", "Sprint 43"),
        "projects": [{"path": "demo/product"}, {"path": "demo/marketing"}],
        "members": [{"group": "demo", "user": "alice", "access_level": 40}],
    }


async def test_a_200_item_sprint_rolls_over_completely_with_one_write_per_change(
    tmp_path: Path,
) -> None:
    sim = Simulator(big_sprint(200))
    with SimulatorThread(sim):
        server = await serve_rule_pack(sim, tmp_path)
        try:
            sprint = sim.milestone("Sprint 42")
            group = as_user(sim, "alice").groups.get("demo", lazy=True)
            milestone = group.milestones.get(sprint["id"])
            milestone.state_event = "close"
            milestone.save()
            await settle(sim, store_of(server), within_s=60)
            # Over the shipped roll-over's approve_above (50): a Maintainer approves first.
            [request] = sim.issues("demo/marketing")
            approval = as_user(sim, "alice").projects.get("demo/marketing", lazy=True)
            issue = approval.issues.get(request["iid"])
            issue.labels = ["automation::approved"]
            issue.save()
            await settle(sim, store_of(server), within_s=120)
        finally:
            await server.close()

        items = sim.issues("demo/product")
        assert len(items) == 200
        assert all(i["milestone"]["title"] == "Sprint 43" for i in items)
        assert all({"rolled-over::1", "health::needs attention"} <= set(i["labels"]) for i in items)
        writes = [
            r
            for r in sim.recorded(user="hooks-bot")
            if r.method in ("PUT", "POST") and "demo%2Fmarketing" not in r.path
        ]
        # Per item: one move, one label + health edit... at most 4 writes, and no more.
        assert len([w for w in writes if w.method == "POST"]) == 200  # one comment each
        assert len(writes) <= 200 * 4
