"""The simulator's less common endpoints: keyset pages, label events, links, releases, iterations."""

from __future__ import annotations

from datetime import date
from typing import Any

import gitlab
import pytest
import requests

from hooks.testing.sim_seed_demo import demo_seed
from hooks.testing.simulator import Simulator, SimulatorThread


def api(
    sim: Simulator,
    path: str,
    method: str = "GET",
    token: str | None = "sim-token",
    headers: dict[str, str] | None = None,
    **kwargs: Any,
) -> requests.Response:
    headers = {**({"PRIVATE-TOKEN": token} if token else {}), **(headers or {})}
    return requests.request(method, f"{sim.url}/api/v4{path}", headers=headers, timeout=5, **kwargs)


def test_keyset_pages_link_only_the_next_page_and_carry_no_totals(gitlab_sim: Simulator) -> None:
    r = api(gitlab_sim, "/projects?pagination=keyset&order_by=id&sort=asc&per_page=2")

    ids = [project["id"] for project in r.json()]
    assert ids == sorted(ids) and len(ids) == 2
    assert "X-Total" not in r.headers and "X-Page" not in r.headers
    assert f"id_after={ids[-1]}" in r.headers["Link"] and 'rel="next"' in r.headers["Link"]


def test_python_gitlab_iterates_keyset_pages_to_the_end(gitlab_api: gitlab.Gitlab) -> None:
    keyset = gitlab_api.projects.list(
        pagination="keyset", order_by="id", sort="asc", per_page=1, iterator=True
    )
    paged = gitlab_api.projects.list(get_all=True)

    assert sorted(p.id for p in keyset) == sorted(p.id for p in paged)
    assert len(paged) == 3


def test_issue_lists_have_no_keyset_pages_and_refuse_order_by_id(gitlab_sim: Simulator) -> None:
    # Keyset pagination covers projects, groups, users...; issues sort by created_at, not id.
    r = api(gitlab_sim, "/projects/demo%2Fproduct/issues?pagination=keyset&order_by=id")

    assert r.status_code == 400
    assert r.json() == {"error": "order_by does not have a valid value"}


def test_label_changes_are_recorded_as_resource_label_events(gitlab_sim: Simulator) -> None:
    path = "/projects/demo%2Fproduct/issues/1"
    before = len(api(gitlab_sim, f"{path}/resource_label_events?per_page=100").json())

    api(gitlab_sim, path, "PUT", json={"add_labels": "blocked"})
    api(gitlab_sim, path, "PUT", json={"remove_labels": "blocked"})

    events = api(gitlab_sim, f"{path}/resource_label_events?per_page=100").json()[before:]
    assert [(e["action"], e["label"]["name"]) for e in events] == [
        ("add", "blocked"),
        ("remove", "blocked"),
    ]
    assert events[0]["user"]["username"] == "hooks-bot"


def test_linking_the_same_issues_twice_answers_409(gitlab_sim: Simulator) -> None:
    link = {"target_project_id": "demo/marketing", "target_issue_iid": 1}

    first = api(gitlab_sim, "/projects/demo%2Fproduct/issues/1/links", "POST", json=link)
    again = api(gitlab_sim, "/projects/demo%2Fproduct/issues/1/links", "POST", json=link)

    assert first.status_code == 201
    assert again.status_code == 409


def test_the_groups_iterations_are_listed_for_its_projects(gitlab_sim: Simulator) -> None:
    titles = [i["title"] for i in api(gitlab_sim, "/projects/demo%2Fproduct/iterations").json()]

    assert titles == ["Iteration 42", "Iteration 43"]


def test_releases_from_the_seed_are_listed_and_found_by_tag() -> None:
    seed = demo_seed(date.today())
    seed["releases"] = [{"project": "demo/product", "tag": "v1.0", "milestones": ["Sprint 42"]}]
    sim = Simulator(seed)
    with SimulatorThread(sim):
        listed = api(sim, "/projects/demo%2Fproduct/releases").json()
        release = api(sim, "/projects/demo%2Fproduct/releases/v1.0").json()
        missing = api(sim, "/projects/demo%2Fproduct/releases/v9.9")

    assert [r["tag_name"] for r in listed] == ["v1.0"]
    assert [m["title"] for m in release["milestones"]] == ["Sprint 42"]
    assert missing.status_code == 404


def test_a_read_only_token_reads_but_is_refused_writes_with_403() -> None:
    seed = demo_seed(date.today())
    seed["users"].append({"username": "viewer", "token": "viewer-token", "read_only": True})
    sim = Simulator(seed)
    with SimulatorThread(sim):
        read = api(sim, "/projects/demo%2Fproduct/issues/1", token="viewer-token")
        write = api(
            sim,
            "/projects/demo%2Fproduct/issues",
            "POST",
            token="viewer-token",
            json={"title": "x"},
        )

    assert read.status_code == 200
    assert write.status_code == 403
    assert write.json() == {"message": "403 Forbidden"}


# python-gitlab 5 hands variables to gql 4 the way gql now calls deprecated; it still works.
@pytest.mark.filterwarnings("ignore:Using variable_values:DeprecationWarning")
def test_python_gitlab_graphql_sets_the_iteration_from_variables(gitlab_sim: Simulator) -> None:
    client = gitlab.GraphQL(gitlab_sim.url, token=gitlab_sim.bot_token)
    iteration = api(gitlab_sim, "/groups/demo/iterations").json()[1]

    client.execute(
        "mutation($path: ID!, $iid: String!, $it: IterationID) {"
        " issueSetIteration(input: {projectPath: $path, iid: $iid, iterationId: $it})"
        " { issue { iid } errors } }",
        variable_values={
            "path": "demo/product",
            "iid": "3",
            "it": f"gid://gitlab/Iteration/{iteration['id']}",
        },
    )

    assert gitlab_sim.issue("demo/product", 3)["iteration"]["title"] == "Iteration 43"


def test_graphql_answers_the_current_user(gitlab_sim: Simulator) -> None:
    r = requests.post(
        f"{gitlab_sim.url}/api/graphql",
        headers={"Authorization": "Bearer sim-token"},
        json={"query": "query { currentUser { id username } }"},
        timeout=5,
    )

    assert r.json()["data"]["currentUser"]["username"] == "hooks-bot"


def test_a_change_carrying_an_event_uuid_is_not_echoed_to_a_hook_that_saw_it(
    gitlab_sim: Simulator,
) -> None:
    hook_id = gitlab_sim.add_hook("http://127.0.0.1:9/unreachable", None, project="demo/product")
    path = "/projects/demo%2Fproduct/issues/1"
    api(gitlab_sim, path, "PUT", json={"title": "First"})
    gitlab_sim.wait_webhooks_idle()
    first = gitlab_sim.webhooks.sent[-1]

    uuid = first.headers["X-Gitlab-Event-UUID"]
    api(gitlab_sim, path, "PUT", json={"title": "Echo"}, headers={"X-Gitlab-Event-UUID": uuid})
    gitlab_sim.wait_webhooks_idle()

    assert first.hook_id == hook_id
    assert [d.body["object_attributes"]["title"] for d in gitlab_sim.webhooks.sent] == ["First"]


def test_recursion_detection_can_be_switched_off(gitlab_sim: Simulator) -> None:
    gitlab_sim.webhooks.recursion_detection = False
    gitlab_sim.add_hook("http://127.0.0.1:9/unreachable", None, project="demo/product")
    path = "/projects/demo%2Fproduct/issues/1"
    api(gitlab_sim, path, "PUT", json={"title": "First"})
    gitlab_sim.wait_webhooks_idle()
    uuid = gitlab_sim.webhooks.sent[-1].headers["X-Gitlab-Event-UUID"]

    api(gitlab_sim, path, "PUT", json={"title": "Echo"}, headers={"X-Gitlab-Event-UUID": uuid})
    gitlab_sim.wait_webhooks_idle()

    sent = gitlab_sim.webhooks.sent
    assert [d.body["object_attributes"]["title"] for d in sent] == ["First", "Echo"]
    assert sent[-1].headers["X-Gitlab-Event-UUID"] == uuid


@pytest.mark.parametrize("listing", ["issues/1/notes", "merge_requests", "releases"])
@pytest.mark.parametrize(
    ("query", "error"),
    [
        ("order_by=nope", "order_by does not have a valid value"),
        ("sort=up", "sort does not have a valid value"),
    ],
)
def test_list_endpoints_refuse_an_unknown_order_by_or_sort_with_400(
    gitlab_sim: Simulator, listing: str, query: str, error: str
) -> None:
    r = api(gitlab_sim, f"/projects/demo%2Fproduct/{listing}?{query}")

    assert r.status_code == 400
    assert r.json() == {"error": error}
