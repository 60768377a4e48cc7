"""Simulator behaviours beyond the core proof: hooks CRUD, milestone filters, latency, resets."""

from __future__ import annotations

import time

import gitlab
import pytest
import requests

from hooks.testing.sim_faults import Fault
from hooks.testing.simulator import Simulator, SimulatorThread


def get(sim: Simulator, path: str) -> requests.Response:
    return requests.get(
        f"{sim.url}/api/v4{path}", headers={"PRIVATE-TOKEN": "sim-token"}, timeout=5
    )


def test_python_gitlab_creates_edits_and_deletes_a_project_hook(gitlab_api: gitlab.Gitlab) -> None:
    project = gitlab_api.projects.get("demo/product")

    hook = project.hooks.create(
        {"url": "http://hooks.example/hook", "token": "s3cret", "issues_events": True}
    )
    hook.releases_events = True
    hook.save()
    listed = [(h.url, h.issues_events, h.releases_events) for h in project.hooks.list()]
    hook.delete()

    assert listed == [("http://hooks.example/hook", True, True)]
    assert project.hooks.list() == []


def test_group_milestones_filter_by_state_and_title(gitlab_sim: Simulator) -> None:
    closed = get(gitlab_sim, "/groups/demo/milestones?state=closed").json()
    by_title = get(gitlab_sim, "/groups/demo/milestones?title=Sprint%2043").json()

    assert [m["title"] for m in closed] == ["Sprint 41"]
    assert [m["title"] for m in by_title] == ["Sprint 43"]


def test_the_started_milestone_filter_keeps_the_current_sprints_issues(
    gitlab_sim: Simulator,
) -> None:
    started = get(gitlab_sim, "/projects/demo%2Fproduct/issues?milestone=Started&per_page=100")

    titles = {i["milestone"]["title"] for i in started.json()}
    assert titles == {"Sprint 42"}


def test_a_fixed_latency_delays_only_the_matching_route(gitlab_sim: Simulator) -> None:
    gitlab_sim.faults.add(Fault(path="/api/v4/version", latency_s=0.3))

    started = time.monotonic()
    get(gitlab_sim, "/version")
    slow = time.monotonic() - started
    started = time.monotonic()
    get(gitlab_sim, "/user")
    fast = time.monotonic() - started

    assert slow >= 0.3
    assert fast < 0.3


def test_a_reset_connection_fails_the_client_without_an_answer(gitlab_sim: Simulator) -> None:
    gitlab_sim.faults.add(Fault(path="/api/v4/version", reset_rate=1.0))

    with pytest.raises(requests.ConnectionError):
        get(gitlab_sim, "/version")


def test_upcoming_means_the_nearest_future_due_date_as_in_gitlab(
    gitlab_sim: Simulator,
) -> None:
    upcoming = get(gitlab_sim, "/projects/demo%2Fproduct/issues?milestone=Upcoming&per_page=100")

    titles = {i["milestone"]["title"] for i in upcoming.json()}
    assert titles == {"Sprint 42"}  # due in 6 days; Sprint 43 is due later


def test_updated_after_and_before_include_the_boundary_like_gitlab(
    gitlab_sim: Simulator,
) -> None:
    [issue] = get(gitlab_sim, "/projects/demo%2Fproduct/issues?per_page=1").json()
    stamp = issue["updated_at"]
    on = get(gitlab_sim, f"/projects/demo%2Fproduct/issues?updated_after={stamp}").json()
    assert issue["id"] in [i["id"] for i in on]
    until = get(gitlab_sim, f"/projects/demo%2Fproduct/issues?updated_before={stamp}").json()
    assert issue["id"] in [i["id"] for i in until]
    [milestone] = get(gitlab_sim, "/groups/demo/milestones?per_page=1").json()
    when = milestone["updated_at"]
    later = get(gitlab_sim, f"/groups/demo/milestones?updated_after={when}").json()
    assert milestone["id"] in [m["id"] for m in later]
    assert (
        get(gitlab_sim, "/groups/demo/milestones?updated_after=2999-01-01T00:00:00Z").json() == []
    )


def test_hook_events_list_recent_deliveries_by_status_class(gitlab_sim: Simulator) -> None:
    hook_id = gitlab_sim.add_hook("http://127.0.0.1:9/nothing-listens", project="demo/product")
    alice = gitlab.Gitlab(gitlab_sim.url, private_token="alice-token", timeout=5)
    issue = alice.projects.get("demo/product").issues.get(1)
    issue.labels = ["poked"]
    issue.save()
    assert gitlab_sim.wait_webhooks_idle(5)
    path = f"/projects/demo%2Fproduct/hooks/{hook_id}/events"
    [failed] = get(gitlab_sim, f"{path}?status=server_failure").json()
    assert failed["response_status"] == "internal error"  # how GitLab logs a refused connection
    assert failed["trigger"] == "issue_hooks" and failed["request_data"]["object_kind"] == "issue"
    assert get(gitlab_sim, f"{path}?status=successful").json() == []


def test_a_push_test_delivery_is_sent_and_a_failure_is_reported(gitlab_sim: Simulator) -> None:
    hook_id = gitlab_sim.add_hook("http://127.0.0.1:9/nothing-listens", project="demo/product")
    with gitlab_sim.lock:
        hook = gitlab_sim.state.hooks[hook_id]
        hook.update(alert_status="temporarily_disabled", disabled_until="2999-01-01T00:00:00+00:00")
    answer = requests.post(
        f"{gitlab_sim.url}/api/v4/projects/demo%2Fproduct/hooks/{hook_id}/test/push_events",
        headers={"PRIVATE-TOKEN": "sim-token"},
        timeout=5,
    )
    # Nothing listens at that URL: the test fails and says so, as GitLab does.
    assert answer.status_code == 422 and "hook test failed" in answer.json()["message"]
    assert gitlab_sim.webhooks.sent[-1].event == "Push Hook"


def test_a_seed_may_give_the_ids_of_a_recorded_payload() -> None:
    sim = Simulator(
        {
            "users": [{"username": "hooks-bot", "id": 9000}, {"username": "root", "id": 1}],
            "groups": [{"path": "flightjs", "id": 35}],
            "projects": [{"path": "flightjs/Flight", "id": 7}, {"path": "flightjs/other"}],
            "milestones": [{"group": "flightjs", "title": "v1.0.0", "id": 42, "iid": 1}],
            "issues": [{"project": "flightjs/Flight", "title": "A", "id": 635, "iid": 42}],
        }
    )
    with SimulatorThread(sim):
        project = get(sim, "/projects/7").json()
        milestone = get(sim, "/groups/35/milestones").json()
        issue = get(sim, "/projects/flightjs%2FFlight/issues/42").json()
        numbered = get(sim, "/projects/flightjs%2Fother").json()
        bot = get(sim, "/user").json()

    assert project["path_with_namespace"] == "flightjs/Flight"
    assert project["namespace"]["id"] == 35
    assert [(m["id"], m["iid"], m["title"]) for m in milestone] == [(42, 1, "v1.0.0")]
    assert (issue["id"], issue["iid"]) == (635, 42)
    assert numbered["id"] == 8  # without an id, numbering goes on after the given ones
    assert (bot["id"], bot["username"]) == (9000, "hooks-bot")
