"""The simulator answers the GraphQL reads GitLab has no REST for, in GraphQL's shapes:
iterations with their cadence, and an item's child work items (the hierarchy widget)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hooks.gitlab.work_items import CHILDREN, ITERATIONS
from hooks.testing.simulator import Simulator, SimulatorThread
from tests.e2e import as_user
from tests.test_iteration_rollover import two_cadences
from tests.test_simulator_statuses import graphql


@pytest.fixture
def sim() -> Iterator[Simulator]:
    simulator = Simulator(two_cadences())
    with SimulatorThread(simulator):
        yield simulator


def test_iterations_name_their_cadence_with_global_ids_and_lower_case_states(
    sim: Simulator,
) -> None:
    answer = graphql(sim, ITERATIONS, fullPath="demo/product", after=None)

    listing = answer["data"]["project"]["iterations"]
    first = listing["nodes"][0]
    assert first["id"] == "gid://gitlab/Iteration/11" and first["title"] is None
    assert first["iterationCadence"] == {
        "id": "gid://gitlab/Iterations::Cadence/1",
        "title": "Team A",
    }
    assert [n["state"] for n in listing["nodes"]] == ["closed", "closed", "current", "current"]
    assert listing["pageInfo"] == {"hasNextPage": False, "endCursor": None}


def test_an_items_children_are_its_tasks_with_open_and_closed_states(sim: Simulator) -> None:
    answer = graphql(sim, CHILDREN, fullPath="demo/product", iid="1")

    [item] = answer["data"]["project"]["workItems"]["nodes"]
    [hierarchy] = [w for w in item["widgets"] if "children" in w]
    assert hierarchy["children"]["nodes"] == [
        {
            "iid": "2",
            "state": "OPEN",
            "workItemType": {"name": "Task"},
            "namespace": {"fullPath": "demo/product"},
        },
        {
            "iid": "3",
            "state": "CLOSED",
            "workItemType": {"name": "Task"},
            "namespace": {"fullPath": "demo/product"},
        },
    ]


def test_a_project_that_does_not_exist_answers_null(sim: Simulator) -> None:
    answer = graphql(sim, ITERATIONS, fullPath="nowhere/else", after=None)

    assert answer == {"data": {"project": None}}


def test_rest_lists_tasks_with_their_type_and_filters_by_it(sim: Simulator) -> None:
    product = as_user(sim, "alice").projects.get("demo/product", lazy=True)

    tasks = product.issues.list(issue_type="task", state="all", get_all=True)

    assert sorted(t.iid for t in tasks) == [2, 3, 8]
    assert {(t.issue_type, t.type) for t in tasks} == {("task", "TASK")}


def test_rest_lists_an_iterations_items_by_its_id(sim: Simulator) -> None:
    product = as_user(sim, "alice").projects.get("demo/product", lazy=True)

    ended = product.issues.list(iteration_id=11, state="opened", get_all=True)

    assert sorted(i.iid for i in ended) == [1, 5, 8]
