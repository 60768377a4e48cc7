"""The simulator's less common endpoints: keyset pages, label events, links, releases, iterations."""

from __future__ import annotations

from datetime import date
from typing import Any

import gitlab
import requests

from hooks.testing.sim_state import demo_seed
from hooks.testing.simulator import Simulator, SimulatorThread


def api(
    sim: Simulator, path: str, method: str = "GET", token: str | None = "sim-token", **kwargs: Any
) -> requests.Response:
    headers = {"PRIVATE-TOKEN": token} if token else {}
    return requests.request(method, f"{sim.url}/api/v4{path}", headers=headers, timeout=5, **kwargs)


def test_keyset_pages_link_only_the_next_page_and_carry_no_totals(gitlab_sim: Simulator) -> None:
    r = api(
        gitlab_sim,
        "/projects/demo%2Fproduct/issues?pagination=keyset&order_by=id&sort=asc&per_page=3",
    )

    ids = [issue["id"] for issue in r.json()]
    assert ids == sorted(ids) and len(ids) == 3
    assert "X-Total" not in r.headers and "X-Page" not in r.headers
    assert f"id_after={ids[-1]}" in r.headers["Link"] and 'rel="next"' in r.headers["Link"]


def test_python_gitlab_iterates_keyset_pages_to_the_end(gitlab_api: gitlab.Gitlab) -> None:
    product = gitlab_api.projects.get("demo/product")

    keyset = product.issues.list(
        pagination="keyset", order_by="id", sort="asc", per_page=3, iterator=True
    )
    paged = product.issues.list(get_all=True)

    assert sorted(i.iid for i in keyset) == sorted(i.iid for i in paged)
    assert len(paged) == 8


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
