"""Teams on iteration cadences: at the end of an iteration, open items and their open child
tasks move to the next iteration of the team's own cadence, once, with labels, health and a
comment; another team's cadence with the same dates is left alone."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from hooks.service.context import SERVICE
from hooks.testing.simulator import Simulator, SimulatorThread
from tests.conftest import SECRET
from tests.e2e import (
    RULE_PACK,
    close_milestone,
    marked_notes,
    service_settings,
    settle,
    start_service,
    store_of,
)

TODAY = date.today()
ENDED, RUNNING = TODAY - timedelta(days=14), TODAY  # A1/B1 ended yesterday; A2/B2 start today


def two_cadences() -> dict[str, Any]:
    """Group demo runs two cadences with the same dates: Team A's (the pack's team) and
    Team B's. Team A's iteration ended yesterday with open items, one with open and closed
    child tasks (the tasks have no iteration: GitLab's roll-over leaves them behind)."""

    def iteration(id_: int, cadence: str, start: date) -> dict[str, Any]:
        due = start + timedelta(days=13)
        return {
            "id": id_,
            "group": "demo",
            "cadence": cadence,
            "start_date": str(start),
            "due_date": str(due),
        }

    def item(iid: int, title: str, **more: Any) -> dict[str, Any]:
        return {"project": "demo/product", "iid": iid, "title": title, "author": "alice", **more}

    return {
        "users": [
            {"username": "hooks-bot", "token": "sim-token"},
            {"username": "alice", "token": "alice-token"},
        ],
        "groups": [{"path": "demo"}],
        "projects": [{"path": "demo/product"}, {"path": "demo/marketing"}],
        "milestones": [
            {
                "group": "demo",
                "title": "Sprint 1",
                "start_date": str(ENDED),
                "due_date": str(TODAY - timedelta(days=1)),
            },
            {
                "group": "demo",
                "title": "Sprint 2",
                "start_date": str(RUNNING),
                "due_date": str(TODAY + timedelta(days=13)),
            },
        ],
        "iterations": [
            iteration(11, "Team A", ENDED),
            iteration(12, "Team A", RUNNING),
            iteration(21, "Team B", ENDED),
            iteration(22, "Team B", RUNNING),
        ],
        "issues": [
            item(1, "Landing page", iteration=11, milestone="Sprint 1"),
            item(2, "Draft the copy", type="task", parent=1),
            item(3, "Pick images", type="task", parent=1, state="closed"),
            item(4, "Team B's item", iteration=21),
            item(5, "Webinar", iteration=11, labels=["rolled-over::1"]),
            item(6, "Shipped", iteration=11, state="closed"),
            # GitLab's own cadence roll-over moved #7 on and left its task #8 behind:
            item(7, "Press kit", iteration=12),
            item(8, "Write the boilerplate", type="task", parent=7, iteration=11),
        ],
    }


@pytest.fixture
def sim() -> Iterator[Simulator]:
    simulator = Simulator(two_cadences())
    with SimulatorThread(simulator):
        yield simulator


def on_iterations(tmp_path: Path) -> Path:
    """The shipped pack, switched to iterations as a team would: one var."""
    rules = tmp_path / "pack"
    shutil.copytree(RULE_PACK, rules)
    team = rules / "00-team.yaml"
    team.write_text(team.read_text().replace("sprints: milestones", "sprints: iterations"))
    return rules


@pytest.fixture
async def service(sim: Simulator, tmp_path: Path) -> AsyncIterator[TestServer]:
    server = await start_service(service_settings(sim, tmp_path, on_iterations(tmp_path)))
    sim.add_hook(str(server.make_url("/webhook")), SECRET, group="demo")
    yield server
    await server.close()


async def sweep(server: TestServer, day: date) -> None:
    scheduler = server.app[SERVICE].runtime.scheduler  # type: ignore[union-attr]
    at = datetime.combine(day, time(5, 30), tzinfo=UTC)
    for rule in ("iteration-roll-over-first-time", "iteration-roll-over-again"):
        await scheduler.fire(rule, at)


def iteration_of(sim: Simulator, iid: int) -> int | None:
    found = sim.issue("demo/product", iid).get("iteration")
    return found["id"] if found else None


async def test_open_items_and_their_open_tasks_move_to_the_teams_next_iteration(
    sim: Simulator, service: TestServer
) -> None:
    await sweep(service, TODAY)
    await settle(sim, store_of(service))

    for iid in (1, 2):  # the item and its open child task
        issue = sim.issue("demo/product", iid)
        assert iteration_of(sim, iid) == 12
        assert "rolled-over::1" in issue["labels"]
        assert "health::needs attention" in issue["labels"]
        [note] = marked_notes(sim, "demo/product", iid)
        assert (
            "to Team A" in note["body"]
            and "it was still open when the iteration ended" in (note["body"])
        )
    assert iteration_of(sim, 3) is None and not marked_notes(sim, "demo/product", 3)  # closed
    assert iteration_of(sim, 6) == 11  # closed items stay in the iteration they were done in


async def test_a_task_gitlabs_own_roll_over_left_behind_follows_its_parent(
    sim: Simulator, service: TestServer
) -> None:
    await sweep(service, TODAY)
    await settle(sim, store_of(service))

    assert iteration_of(sim, 8) == 12
    assert "rolled-over::1" in sim.issue("demo/product", 8)["labels"]
    assert iteration_of(sim, 7) == 12 and not marked_notes(sim, "demo/product", 7)


async def test_an_item_rolling_over_again_is_at_risk(sim: Simulator, service: TestServer) -> None:
    await sweep(service, TODAY)
    await settle(sim, store_of(service))

    again = sim.issue("demo/product", 5)
    assert iteration_of(sim, 5) == 12
    assert {"rolled-over::2", "health::at risk"} <= set(again["labels"])


async def test_another_teams_cadence_with_the_same_dates_is_left_alone(
    sim: Simulator, service: TestServer
) -> None:
    await sweep(service, TODAY)
    await settle(sim, store_of(service))

    assert iteration_of(sim, 4) == 21
    assert sim.issue("demo/product", 4)["labels"] == []
    assert not marked_notes(sim, "demo/product", 4)


async def test_the_daily_sweep_moves_each_item_once(sim: Simulator, service: TestServer) -> None:
    await sweep(service, TODAY)
    await settle(sim, store_of(service))
    sim.clear_requests()

    await sweep(service, TODAY + timedelta(days=1))
    await settle(sim, store_of(service))

    assert [
        c
        for c in sim.recorded(user="hooks-bot")
        if c.method != "GET" and not c.path.endswith("/graphql")
    ] == []
    assert len(marked_notes(sim, "demo/product", 1)) == 1


async def test_with_sprints_on_iterations_a_closing_milestone_moves_nothing(
    sim: Simulator, service: TestServer
) -> None:
    close_milestone(sim, "Sprint 1")
    await settle(sim, store_of(service))

    assert sim.issue("demo/product", 1)["milestone"]["title"] == "Sprint 1"
    assert not marked_notes(sim, "demo/product", 1)
