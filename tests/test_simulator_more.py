"""Simulator behaviours beyond the core proof: hooks CRUD, milestone filters, latency, resets."""

from __future__ import annotations

import time

import gitlab
import pytest
import requests

from hooks.testing.sim_faults import Fault
from hooks.testing.simulator import Simulator


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
