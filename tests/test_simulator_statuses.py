"""The simulator's work item statuses answer as GitLab does (18.2+, Premium): GitLab's five
system-defined statuses or a top-level group's custom ones, the status widget, `workItemUpdate`
with `statusWidget` closing and reopening by category, GraphQL errors with HTTP 200, the
`/status` quick action, and issue hooks that carry no status."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
import requests

from hooks.testing.sim_seed_demo import demo_seed
from hooks.testing.simulator import Simulator, SimulatorThread
from tests.e2e import as_user

SYSTEM = "gid://gitlab/WorkItems::Statuses::SystemDefined::Status/"
ALLOWED = (
    "query($fullPath: ID!) { namespace(fullPath: $fullPath) { workItemTypes(name: ISSUE) {"
    " nodes { widgetDefinitions { ... on WorkItemWidgetDefinitionStatus {"
    " allowedStatuses { id name category color } } } } } } }"
)
ITEM = (
    "query($fullPath: ID!, $iid: String!) { namespace(fullPath: $fullPath) {"
    " workItem(iid: $iid) { id state widgets { ... on WorkItemWidgetStatus {"
    " status { id name category } } } } } }"
)
UPDATE = (
    "mutation($id: WorkItemID!, $status: WorkItemsStatusesStatusID!) {"
    " workItemUpdate(input: {id: $id, statusWidget: {status: $status}}) {"
    " workItem { id state } errors } }"
)


@pytest.fixture
def sim() -> Iterator[Simulator]:
    seed = demo_seed(date.today())
    seed["statuses"] = [
        {"group": "acme", "name": "Backlog", "category": "triage"},
        {"group": "acme", "name": "Doing", "category": "in_progress"},
        {"group": "acme", "name": "Shipped", "category": "done"},
    ]
    seed["groups"] = [*seed["groups"], {"path": "acme"}]
    seed["projects"] = [*seed["projects"], {"path": "acme/app"}]
    seed["issues"] = [*seed["issues"], {"project": "acme/app", "title": "Sign-up flow"}]
    simulator = Simulator(seed)
    with SimulatorThread(simulator):
        yield simulator


def graphql(sim: Simulator, query: str, user: str = "alice", **variables: Any) -> Any:
    answer = requests.post(
        f"{sim.url}/api/graphql",
        json={"query": query, "variables": variables},
        headers={"PRIVATE-TOKEN": sim.token_for(user)},
        timeout=5,
    )
    assert answer.status_code == 200  # GraphQL errors come with HTTP 200
    return answer.json()


def allowed(sim: Simulator, path: str) -> list[dict[str, Any]]:
    data = graphql(sim, ALLOWED, fullPath=path)["data"]
    [node] = data["namespace"]["workItemTypes"]["nodes"]
    [widget] = node["widgetDefinitions"]
    return list(widget["allowedStatuses"])


def status(sim: Simulator, path: str, iid: int) -> dict[str, Any]:
    item = graphql(sim, ITEM, fullPath=path, iid=str(iid))["data"]["namespace"]["workItem"]
    [widget] = item["widgets"]
    return {"state": item["state"], **widget["status"]}


def set_status(sim: Simulator, path: str, iid: int, gid: str, user: str = "alice") -> Any:
    work_item = f"gid://gitlab/WorkItem/{sim.issue(path, iid)['id']}"
    return graphql(sim, UPDATE, user=user, id=work_item, status=gid)


def test_a_namespace_without_custom_statuses_allows_gitlabs_five(sim: Simulator) -> None:
    found = allowed(sim, "demo/product")
    assert [(s["name"], s["category"], s["color"]) for s in found] == [
        ("To do", "to_do", "#737278"),
        ("In progress", "in_progress", "#1f75cb"),
        ("Done", "done", "#108548"),
        ("Won't do", "canceled", "#DD2B0E"),
        ("Duplicate", "canceled", "#DD2B0E"),
    ]
    assert [s["id"] for s in found] == [f"{SYSTEM}{n}" for n in range(1, 6)]


def test_a_top_level_groups_custom_statuses_replace_the_five(sim: Simulator) -> None:
    found = allowed(sim, "acme/app")
    assert [s["name"] for s in found] == ["Backlog", "Doing", "Shipped"]
    assert all(
        s["id"].startswith("gid://gitlab/WorkItems::Statuses::Custom::Status/") for s in found
    )


def test_the_rest_issue_has_no_status_field(sim: Simulator) -> None:
    set_status(sim, "demo/product", 1, f"{SYSTEM}2")
    rest = as_user(sim, "alice").projects.get("demo/product", lazy=True).issues.get(1)
    assert not {"status", "status_id"} & set(rest.attributes)


def test_an_item_without_a_status_shows_its_lifecycles_default(sim: Simulator) -> None:
    assert status(sim, "demo/product", 1)["name"] == "To do"
    assert status(sim, "acme/app", 1)["name"] == "Backlog"


def test_a_done_status_closes_the_item_and_an_open_one_reopens_it(sim: Simulator) -> None:
    answer = set_status(sim, "demo/product", 1, f"{SYSTEM}3")
    assert answer["data"]["workItemUpdate"]["errors"] == []
    assert answer["data"]["workItemUpdate"]["workItem"]["state"] == "CLOSED"
    assert sim.issue("demo/product", 1)["state"] == "closed"

    set_status(sim, "demo/product", 1, f"{SYSTEM}2")
    assert status(sim, "demo/product", 1) == {
        "state": "OPEN",
        "id": f"{SYSTEM}2",
        "name": "In progress",
        "iconName": "status-running",
        "color": "#1f75cb",
        "position": 0,
        "description": None,
        "category": "in_progress",
    }


def test_an_unknown_status_id_is_a_graphql_error_with_no_change(sim: Simulator) -> None:
    answer = set_status(sim, "demo/product", 1, f"{SYSTEM}9")
    assert answer["data"] == {"workItemUpdate": None}
    [error] = answer["errors"]
    assert (error["message"], error["path"]) == ("Status doesn't exist.", ["workItemUpdate"])
    assert status(sim, "demo/product", 1)["name"] == "To do"


def test_another_groups_custom_status_does_not_exist_here(sim: Simulator) -> None:
    shipped = allowed(sim, "acme/app")[2]["id"]
    answer = set_status(sim, "demo/product", 1, shipped)
    assert answer["errors"][0]["message"] == "Status doesn't exist."


def test_an_id_of_another_type_is_refused_by_name(sim: Simulator) -> None:
    answer = graphql(sim, UPDATE, id="gid://gitlab/Issue/abc", status=f"{SYSTEM}2")
    assert answer["data"] == {"workItemUpdate": None}
    assert answer["errors"][0]["message"] == (
        '"gid://gitlab/Issue/abc" does not represent an instance of WorkItem'
    )


def test_an_unknown_work_item_is_gitlabs_resource_error(sim: Simulator) -> None:
    answer = graphql(sim, UPDATE, id="gid://gitlab/WorkItem/999999", status=f"{SYSTEM}2")
    assert answer["data"] == {"workItemUpdate": None}
    assert answer["errors"][0]["message"].startswith(
        "The resource that you are attempting to access does not exist"
    )


def test_closing_through_rest_gives_the_default_closed_status(sim: Simulator) -> None:
    set_status(sim, "demo/product", 2, f"{SYSTEM}2")
    issue = as_user(sim, "alice").projects.get("demo/product", lazy=True).issues.get(2)
    issue.state_event = "close"
    issue.save()
    assert status(sim, "demo/product", 2)["name"] == "Done"
    issue.state_event = "reopen"
    issue.save()
    assert status(sim, "demo/product", 2)["name"] == "To do"


def test_the_status_quick_action_matches_names_case_insensitively(sim: Simulator) -> None:
    issue = as_user(sim, "bob").projects.get("demo/product", lazy=True).issues.get(3, lazy=True)
    issue.notes.create({"body": '/status "won\'t DO"'})
    assert status(sim, "demo/product", 3)["name"] == "Won't do"
    assert sim.issue("demo/product", 3)["state"] == "closed"


def test_issue_hooks_carry_no_status(sim: Simulator) -> None:
    sim.add_hook("http://127.0.0.1:9/unreachable", group="demo")
    set_status(sim, "demo/product", 4, f"{SYSTEM}2")  # status only: an update
    set_status(sim, "demo/product", 4, f"{SYSTEM}5")  # Duplicate: closes it
    assert sim.wait_webhooks_idle()
    sent = [d.body for d in sim.webhooks.sent if d.body["object_attributes"].get("iid") == 4]
    assert [b["object_attributes"]["action"] for b in sent] == ["update", "close"]
    assert sorted(sent[0]["changes"]) == ["updated_at", "updated_by_id"]
    for body in sent:
        assert "status" not in body["object_attributes"] and "status_id" not in body["changes"]


def test_a_dump_keeps_custom_statuses_and_each_items_status(sim: Simulator) -> None:
    set_status(sim, "acme/app", 1, allowed(sim, "acme/app")[1]["id"])
    dumped = sim.dump()
    assert {"group": "acme", "name": "Doing", "category": "in_progress"}.items() <= next(
        s for s in dumped["statuses"] if s["name"] == "Doing"
    ).items()
    [app_issue] = [i for i in dumped["issues"] if i["project"] == "acme/app"]
    assert app_issue["status"] == "Doing"
    again = Simulator(dumped)
    with SimulatorThread(again):
        assert status(again, "acme/app", 1)["name"] == "Doing"


def test_custom_statuses_belong_to_top_level_groups_only() -> None:
    seed = demo_seed(date.today())
    seed["statuses"] = [{"group": "demo/web", "name": "Doing", "category": "in_progress"}]
    with pytest.raises(ValueError, match="demo/web is not top-level"):
        Simulator(seed)


def test_on_gitlab_free_there_is_no_status_widget_and_no_status_input() -> None:
    seed = demo_seed(date.today())
    seed["groups"] = [{"path": "demo", "plan": "free"}]
    free = Simulator(seed)
    with SimulatorThread(free):
        data = graphql(free, ALLOWED, fullPath="demo/product")["data"]
        assert data["namespace"]["workItemTypes"]["nodes"][0]["widgetDefinitions"] == [{}]
        item = graphql(free, ITEM, fullPath="demo/product", iid="1")["data"]["namespace"]
        assert item["workItem"]["widgets"] == []
        answer = set_status(free, "demo/product", 1, f"{SYSTEM}3")
        assert answer["errors"][0]["message"] == (
            "Following widget keys are not supported by Issue type: [:status_widget]"
        )
        assert free.issue("demo/product", 1)["state"] == "opened"
        note = as_user(free, "bob").projects.get("demo/product", lazy=True).issues.get(1, lazy=True)
        note.notes.create({"body": "/status Done"})  # no such quick action: kept as text
        assert free.notes("demo/product", 1)[-1]["body"] == "/status Done"
        assert free.dump()["groups"][0]["plan"] == "free"
