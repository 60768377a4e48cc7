"""Several teams, one group hierarchy, the same sprint titles: each sprint is its own.

In GitLab a milestone title is unique only within one project or group, so in a big group
every team has its own "Sprint 42". The shipped roll-over must act on the sprint that
closed (by id and owner), never on another team's sprint that shares its title.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from hooks.testing.simulator import Simulator, SimulatorThread
from tests.e2e import as_user, marked_notes, serve_rule_pack, settle, store_of


def _sprint(owner: str, key: str, title: str, start: date) -> dict[str, Any]:
    return {
        owner: key,
        "title": title,
        "start_date": str(start),
        "due_date": str(start + timedelta(days=13)),
    }


def many_teams() -> dict[str, Any]:
    """Group demo (the pack's team, product project demo/product), its subgroup
    demo/team-b with the same sprint titles and dates, and a library project with a
    project milestone "Sprint 42" of its own."""
    today = date.today()
    running, following = today - timedelta(days=6), today + timedelta(days=8)
    return {
        "users": [
            {"username": "hooks-bot", "token": "sim-token"},
            {"username": "alice", "token": "alice-token"},
        ],
        "groups": [{"path": "demo"}, {"path": "demo/team-b"}],
        "projects": [
            {"path": "demo/product"},
            {"path": "demo/marketing"},
            {"path": "demo/team-b/app"},
            {"path": "demo/tools/library"},
        ],
        "milestones": [
            _sprint("group", "demo", "Sprint 42", running),
            _sprint("group", "demo", "Sprint 43", following),
            _sprint("group", "demo/team-b", "Sprint 42", running),
            _sprint("group", "demo/team-b", "Sprint 43", following),
            _sprint("project", "demo/tools/library", "Sprint 42", running),
        ],
        "issues": [
            *({"project": "demo/product", "title": f"Item {n}", "author": "alice"} for n in (1, 2)),
            {"project": "demo/team-b/app", "title": "Team B's item", "author": "alice"},
        ],
    }


def milestone_id(sim: Simulator, owner: str, title: str) -> int:
    """The id of `owner`'s milestone titled `title` (owner: a group or project path)."""
    with sim.lock:
        for m in sim.state.milestones.values():
            group = sim.state.groups.get(m.get("group_id") or -1)
            project = sim.state.projects.get(m.get("project_id") or -1)
            path = (group or {}).get("full_path") or (project or {}).get("path_with_namespace")
            if path == owner and m["title"] == title:
                return int(m["id"])
    raise KeyError(f"no milestone {title!r} of {owner}")


def close(sim: Simulator, owner: str, kind: str, title: str) -> None:
    """A team member closes `owner`'s milestone (kind: groups or projects)."""
    gl = as_user(sim, "alice")
    parent = (gl.groups if kind == "groups" else gl.projects).get(owner, lazy=True)
    milestone = parent.milestones.get(milestone_id(sim, owner, title))
    milestone.state_event = "close"
    milestone.save()


@pytest.fixture
def sim() -> Iterator[Simulator]:
    simulator = Simulator(many_teams())
    with SimulatorThread(simulator):
        demo_sprint = milestone_id(simulator, "demo", "Sprint 42")
        product = as_user(simulator, "alice").projects.get("demo/product", lazy=True)
        for iid in (1, 2):
            product.issues.update(iid, {"milestone_id": demo_sprint})
        team_b = as_user(simulator, "alice").projects.get("demo/team-b/app", lazy=True)
        team_b.issues.update(
            1, {"milestone_id": milestone_id(simulator, "demo/team-b", "Sprint 42")}
        )
        yield simulator


@pytest.fixture
async def service(sim: Simulator, tmp_path: Path) -> AsyncIterator[TestServer]:
    server = await serve_rule_pack(sim, tmp_path)
    yield server
    await server.close()


def product_items(sim: Simulator) -> list[dict[str, Any]]:
    return [sim.issue("demo/product", iid) for iid in (1, 2)]


async def test_another_projects_same_titled_sprint_closing_leaves_the_running_sprint_alone(
    sim: Simulator, service: TestServer
) -> None:
    close(sim, "demo/tools/library", "projects", "Sprint 42")
    await settle(sim, store_of(service))

    running = milestone_id(sim, "demo", "Sprint 42")
    for item in product_items(sim):
        assert item["milestone"]["id"] == running
        assert not [label for label in item["labels"] if label.startswith("rolled-over")]
        assert not marked_notes(sim, "demo/product", item["iid"])
    assert [i["title"] for i in sim.issues("demo/product")] == ["Item 1", "Item 2"]


async def test_another_teams_same_titled_group_sprint_closing_leaves_the_running_sprint_alone(
    sim: Simulator, service: TestServer
) -> None:
    close(sim, "demo/team-b", "groups", "Sprint 42")
    await settle(sim, store_of(service))

    running = milestone_id(sim, "demo", "Sprint 42")
    for item in product_items(sim):
        assert item["milestone"]["id"] == running
        assert not marked_notes(sim, "demo/product", item["iid"])
    assert [i["title"] for i in sim.issues("demo/product")] == ["Item 1", "Item 2"]
    # Team B's own item is Team B's business: the pack's team is demo/product's.
    theirs = sim.issue("demo/team-b/app", 1)
    assert theirs["milestone"]["id"] == milestone_id(sim, "demo/team-b", "Sprint 42")
    assert not marked_notes(sim, "demo/team-b/app", 1)


async def test_the_teams_own_sprint_closing_rolls_items_into_its_own_next_sprint(
    sim: Simulator, service: TestServer
) -> None:
    close(sim, "demo", "groups", "Sprint 42")
    await settle(sim, store_of(service))

    own_next = milestone_id(sim, "demo", "Sprint 43")
    for item in product_items(sim):
        assert item["milestone"]["id"] == own_next  # not team-b's "Sprint 43" of the same dates
        assert "rolled-over::1" in item["labels"]
        [note] = marked_notes(sim, "demo/product", item["iid"])
        assert 'from %"Sprint 42" to %"Sprint 43"' in note["body"]


async def test_every_delivery_of_a_sprint_closing_ends_done(
    sim: Simulator, service: TestServer
) -> None:
    close(sim, "demo/tools/library", "projects", "Sprint 42")
    close(sim, "demo/team-b", "groups", "Sprint 42")
    close(sim, "demo", "groups", "Sprint 42")
    await settle(sim, store_of(service))

    deliveries = await store_of(service).list_deliveries(limit=50)
    milestone_events = [d for d in deliveries if d.event_header == "Milestone Hook"]
    assert len(milestone_events) == 3  # demo's hook hears its subgroup and projects too
    assert {d.status for d in milestone_events} == {"done"}


async def test_an_unrelated_projects_release_milestone_opens_no_release_issue(
    sim: Simulator, service: TestServer
) -> None:
    library = as_user(sim, "alice").projects.get("demo/tools/library", lazy=True)
    library.milestones.create({"title": "v1.0.0"})
    await settle(sim, store_of(service))

    assert [i["title"] for i in sim.issues("demo/marketing")] == []


async def test_the_product_projects_release_milestone_opens_the_release_issue(
    sim: Simulator, service: TestServer
) -> None:
    product = as_user(sim, "alice").projects.get("demo/product", lazy=True)
    product.milestones.create({"title": "v18.7"})
    await settle(sim, store_of(service))

    assert [i["title"] for i in sim.issues("demo/marketing")] == ["Release v18.7"]


async def test_a_group_release_milestone_gets_a_checklist_that_links_the_priority_features(
    sim: Simulator, service: TestServer
) -> None:
    # A group milestone's event has no project: the checklist must not lean on one.
    as_user(sim, "alice").groups.get("demo", lazy=True).milestones.create({"title": "v18.7"})
    await settle(sim, store_of(service))

    [issue] = sim.issues("demo/marketing")
    assert issue["title"] == "Release v18.7"
    assert 'Priority features listed: demo/product~"release-priority"' in issue["description"]
    assert "None" not in issue["description"]
