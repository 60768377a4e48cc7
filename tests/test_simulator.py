"""The GitLab simulator speaks GitLab: python-gitlab unchanged, raw shapes, webhooks, faults."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import gitlab
import pytest
import requests

from hooks.testing.sim_faults import Fault
from hooks.testing.simulator import Simulator
from tests.conftest import FIXTURES

ISSUE_FIXTURE = json.loads((FIXTURES / "issue_open.json").read_text())


class Receiver:
    """A tiny webhook receiver in a thread, answering with a configurable status."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.received: list[tuple[dict[str, str], dict[str, Any]]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                outer.received.append((dict(self.headers), json.loads(self.rfile.read(length))))
                self.send_response(outer.status)
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def api(
    sim: Simulator, path: str, method: str = "GET", token: str | None = "sim-token", **kwargs: Any
) -> requests.Response:
    headers = {"PRIVATE-TOKEN": token} if token else {}
    return requests.request(method, f"{sim.url}/api/v4{path}", headers=headers, timeout=5, **kwargs)


# -- python-gitlab, unchanged ---------------------------------------------------------


def test_python_gitlab_follows_pagination_across_pages(gitlab_api: gitlab.Gitlab) -> None:
    project = gitlab_api.projects.get("demo/product")

    every = project.issues.list(get_all=True, per_page=3)
    streamed = list(project.issues.list(iterator=True, per_page=2))

    assert len(every) == len(streamed) == 9
    assert len({i.iid for i in every}) == 9


def test_python_gitlab_saves_labels_milestone_and_state(gitlab_api: gitlab.Gitlab) -> None:
    project = gitlab_api.projects.get("demo/product")
    sprint = next(
        m for m in project.milestones.list(include_ancestors=True) if m.title == "Sprint 43"
    )
    issue = project.issues.get(1)

    issue.labels = [*issue.labels, "blocked"]
    issue.milestone_id = sprint.id
    issue.state_event = "close"
    issue.save()

    again = project.issues.get(1)
    assert "blocked" in again.labels
    assert again.milestone["title"] == "Sprint 43"
    assert again.state == "closed"


def test_python_gitlab_creates_internal_notes_and_links(gitlab_api: gitlab.Gitlab) -> None:
    product = gitlab_api.projects.get("demo/product")
    issue = product.issues.get(1)

    note = issue.notes.create({"body": "Checking in", "internal": True})
    issue.links.create({"target_project_id": "demo/marketing", "target_issue_iid": 1})

    assert note.internal is True
    assert [n.body for n in issue.notes.list()] == ["Checking in"]
    assert [link.references["full"] for link in issue.links.list()] == ["demo/marketing#1"]


def test_python_gitlab_graphql_sets_native_health_status(gitlab_sim: Simulator) -> None:
    client = gitlab.GraphQL(gitlab_sim.url, token=gitlab_sim.bot_token)

    client.execute(
        'mutation { updateIssue(input: {projectPath: "demo/product", iid: "2",'
        " healthStatus: atRisk}) { issue { healthStatus } errors } }"
    )

    assert gitlab_sim.issue("demo/product", 2)["health_status"] == "at_risk"


# -- raw shapes ---------------------------------------------------------------------------


def test_lists_carry_gitlabs_pagination_headers(gitlab_sim: Simulator) -> None:
    r = api(gitlab_sim, "/projects/demo%2Fproduct/issues?per_page=3&page=2")

    assert r.status_code == 200
    assert (r.headers["X-Page"], r.headers["X-Next-Page"], r.headers["X-Total"]) == ("2", "3", "9")
    assert r.headers["X-Total-Pages"] == "3"
    assert 'rel="next"' in r.headers["Link"] and 'rel="prev"' in r.headers["Link"]


def test_issue_fields_use_gitlabs_names(gitlab_sim: Simulator) -> None:
    issue = api(gitlab_sim, "/projects/demo%2Fproduct/issues/1").json()

    for key in (
        "id",
        "iid",
        "project_id",
        "title",
        "state",
        "labels",
        "milestone",
        "assignees",
        "author",
        "due_date",
        "confidential",
        "web_url",
        "references",
        "health_status",
    ):
        assert key in issue, key
    assert issue["references"]["full"] == "demo/product#1"
    assert issue["web_url"].startswith(gitlab_sim.url)


def test_refusals_have_gitlabs_statuses(gitlab_sim: Simulator) -> None:
    assert api(gitlab_sim, "/user", token=None).status_code == 401
    assert api(gitlab_sim, "/user", token="wrong").json() == {"message": "401 Unauthorized"}
    assert api(gitlab_sim, "/projects/nope%2Fnope").status_code == 404
    assert api(gitlab_sim, "/projects/demo%2Fproduct/issues/999").status_code == 404
    missing = api(gitlab_sim, "/projects/demo%2Fproduct/issues", "POST", json={})
    assert (missing.status_code, missing.json()) == (400, {"error": "title is missing"})
    link = {"target_project_id": "demo/marketing", "target_issue_iid": 1}
    assert api(gitlab_sim, "/projects/demo%2Fproduct/issues/1/links", "POST", json=link).ok
    again = api(gitlab_sim, "/projects/demo%2Fproduct/issues/1/links", "POST", json=link)
    assert again.status_code == 409


def test_bearer_tokens_authenticate_too(gitlab_sim: Simulator) -> None:
    r = requests.get(
        f"{gitlab_sim.url}/api/v4/user", headers={"Authorization": "Bearer sim-token"}, timeout=5
    )

    assert r.json()["username"] == "hooks-bot"


# -- quick actions ---------------------------------------------------------------------------


def test_quick_actions_in_a_note_are_applied_and_removed(gitlab_sim: Simulator) -> None:
    body = 'Moving on\n/label ~"health::at risk"\n/milestone %"Sprint 43"\n/close'

    r = api(gitlab_sim, "/projects/demo%2Fproduct/issues/1/notes", "POST", json={"body": body})

    issue = gitlab_sim.issue("demo/product", 1)
    assert r.status_code == 201 and r.json()["body"] == "Moving on"
    assert "health::at risk" in issue["labels"]
    assert issue["milestone"]["title"] == "Sprint 43"
    assert issue["state"] == "closed"


def test_a_note_of_quick_actions_only_answers_202(gitlab_sim: Simulator) -> None:
    r = api(
        gitlab_sim,
        "/projects/demo%2Fproduct/issues/1/notes",
        "POST",
        json={"body": "/health_status needs_attention"},
    )

    assert r.status_code == 202
    assert gitlab_sim.issue("demo/product", 1)["health_status"] == "needs_attention"
    assert gitlab_sim.notes("demo/product", 1) == []


def test_a_command_not_at_the_start_of_a_line_stays_text(gitlab_sim: Simulator) -> None:
    body = "Please do not \u200b/close this; see `/close`"
    api(gitlab_sim, "/projects/demo%2Fproduct/issues/1/notes", "POST", json={"body": body})

    assert gitlab_sim.issue("demo/product", 1)["state"] == "opened"


# -- webhooks --------------------------------------------------------------------------------


def test_an_api_change_is_delivered_shaped_like_gitlabs_issue_hook(
    gitlab_sim: Simulator, receiver: Receiver
) -> None:
    gitlab_sim.add_hook(receiver.url, "s3cret", group="demo")

    api(
        gitlab_sim,
        "/projects/demo%2Fproduct/issues/1",
        "PUT",
        token="alice-token",
        json={"add_labels": "blocked"},
    )
    gitlab_sim.wait_webhooks_idle()

    [(headers, payload)] = receiver.received
    assert headers["X-Gitlab-Event"] == "Issue Hook" and headers["X-Gitlab-Token"] == "s3cret"
    for name in (
        "X-Gitlab-Event-UUID",
        "X-Gitlab-Webhook-UUID",
        "Idempotency-Key",
        "X-Gitlab-Instance",
        "User-Agent",
    ):
        assert headers.get(name), name
    assert set(ISSUE_FIXTURE) <= set(payload)
    assert set(ISSUE_FIXTURE["object_attributes"]) <= set(payload["object_attributes"])
    assert payload["object_attributes"]["action"] == "update"
    assert "milestone" not in payload["object_attributes"]
    labels = payload["changes"]["labels"]
    assert [x["title"] for x in labels["current"]] == ["area::plan", "blocked"]
    assert set(ISSUE_FIXTURE["changes"]["labels"]["current"][0]) <= set(labels["current"][0])
    assert payload["user"]["username"] == "alice"


def test_a_group_milestone_closed_through_the_api_sends_a_milestone_hook_to_group_hooks(
    gitlab_sim: Simulator, receiver: Receiver
) -> None:
    gitlab_sim.add_hook(receiver.url, None, group="demo")
    sprint = gitlab_sim.milestone("Sprint 42")

    api(gitlab_sim, f"/groups/demo/milestones/{sprint['id']}", "PUT", json={"state_event": "close"})
    gitlab_sim.wait_webhooks_idle()

    [(headers, payload)] = receiver.received
    assert headers["X-Gitlab-Event"] == "Milestone Hook"
    assert payload["action"] == "close" and payload["object_attributes"]["state"] == "closed"


def test_a_failing_receiver_gets_the_hook_disabled_after_four_failures(
    gitlab_sim: Simulator,
) -> None:
    down = Receiver(status=500)
    try:
        hook_id = gitlab_sim.add_hook(down.url, None, project="demo/product")
        for _ in range(5):
            api(
                gitlab_sim,
                "/projects/demo%2Fproduct/issues/1",
                "PUT",
                json={"title": f"T{time.time()}"},
            )
        gitlab_sim.wait_webhooks_idle()

        hook = api(gitlab_sim, f"/projects/demo%2Fproduct/hooks/{hook_id}").json()
        assert hook["alert_status"] == "temporarily_disabled" and hook["disabled_until"]
        assert [d.status for d in gitlab_sim.webhooks.sent][-1] == "dropped"

        down.status = 200
        test = api(
            gitlab_sim, f"/projects/demo%2Fproduct/hooks/{hook_id}/test/issues_events", "POST"
        )
        assert test.status_code == 201
        assert (
            api(gitlab_sim, f"/projects/demo%2Fproduct/hooks/{hook_id}").json()["alert_status"]
            == "executable"
        )
    finally:
        down.close()


def test_hooks_never_show_their_token(gitlab_sim: Simulator) -> None:
    gitlab_sim.add_hook("http://127.0.0.1:9/x", "top-secret", project="demo/product")

    listed = api(gitlab_sim, "/projects/demo%2Fproduct/hooks").text

    assert "top-secret" not in listed


# -- faults and the request log ---------------------------------------------------------------


def test_a_429_carries_retry_after_and_python_gitlab_waits_and_succeeds(
    gitlab_sim: Simulator, gitlab_api: gitlab.Gitlab
) -> None:
    gitlab_sim.faults.add(Fault(path="/api/v4/projects/*", rate_limit_per_minute=2, window_s=1))
    time.sleep(1 - time.time() % 1)  # windows are aligned to Unix time: start one afresh
    for _ in range(2):
        api(gitlab_sim, "/projects/demo%2Fproduct")

    limited = api(gitlab_sim, "/projects/demo%2Fproduct")
    started = time.monotonic()
    project = gitlab_api.projects.get("demo/product")

    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
    assert limited.headers["RateLimit-Remaining"] == "0"
    assert project.path_with_namespace == "demo/product"
    assert time.monotonic() - started >= 0.5


def test_an_error_rate_fails_about_that_share_of_requests(gitlab_sim: Simulator) -> None:
    gitlab_sim.faults.add(Fault(path="/api/v4/version", error_rate=0.5))

    statuses = [api(gitlab_sim, "/version").status_code for _ in range(200)]

    failures = sum(s in (500, 502, 503) for s in statuses)
    assert 70 <= failures <= 130


def test_a_hung_request_times_out_on_the_client(gitlab_sim: Simulator) -> None:
    gitlab_sim.faults.add(Fault(path="/api/v4/version", hang_rate=1.0, hang_s=5))

    with pytest.raises(requests.Timeout):
        requests.get(
            f"{gitlab_sim.url}/api/v4/version", headers={"PRIVATE-TOKEN": "sim-token"}, timeout=0.3
        )


def test_the_request_log_records_method_path_status_and_user(gitlab_sim: Simulator) -> None:
    api(gitlab_sim, "/projects/demo%2Fproduct/issues/1", token="alice-token")

    [record] = gitlab_sim.recorded()
    assert (record.method, record.path, record.status, record.user) == (
        "GET",
        "/api/v4/projects/demo%2Fproduct/issues/1",
        200,
        "alice",
    )


# -- state ---------------------------------------------------------------------------------------


def test_the_demo_has_a_past_a_current_and_a_next_sprint(gitlab_sim: Simulator) -> None:
    from datetime import date

    today = date.today().isoformat()
    sprints = {t: gitlab_sim.milestone(t) for t in ("Sprint 41", "Sprint 42", "Sprint 43")}

    assert sprints["Sprint 41"]["due_date"] < today
    assert sprints["Sprint 42"]["start_date"] <= today <= sprints["Sprint 42"]["due_date"]
    assert sprints["Sprint 43"]["start_date"] > today


def test_a_dump_loads_back_into_the_same_state() -> None:
    first = Simulator()
    second = Simulator(first.dump())

    assert second.dump() == first.dump()


def test_pagination_links_keep_an_encoded_project_path(gitlab_sim: Simulator) -> None:
    r = api(gitlab_sim, "/projects/demo%2Fproduct/issues?per_page=3")

    next_link = r.links["next"]["url"]
    assert "/projects/demo%2Fproduct/issues" in next_link
    assert requests.get(next_link, headers={"PRIVATE-TOKEN": "sim-token"}, timeout=5).ok
