"""Where the simulator used to differ from GitLab: each behaviour a new user met with
python-gitlab against `hooks simulate`, now as GitLab does it."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import gitlab
import pytest
import requests

from hooks.testing.sim_faults import Fault
from hooks.testing.sim_webhooks import SentDelivery
from hooks.testing.simulator import Simulator
from tests.conftest import FIXTURES
from tests.sim_seed import TEAM_SEED

NOWHERE = "http://127.0.0.1:9/unreachable"


@pytest.fixture
def gitlab_seed() -> dict[str, Any]:
    """The team seed, plus a user whose token may read but not write."""
    viewer = {"username": "viewer", "token": "viewer-token", "read_only": True}
    return {**TEAM_SEED, "users": [*TEAM_SEED["users"], viewer]}


def call(sim: Simulator, method: str, path: str, token: str | None = "sim-token", **kw: Any) -> Any:
    headers = {"PRIVATE-TOKEN": token} if token else {}
    return requests.request(method, f"{sim.url}/api/v4{path}", headers=headers, timeout=5, **kw)


def deliveries(sim: Simulator, hook_id: int) -> list[SentDelivery]:
    assert sim.wait_webhooks_idle()
    return [d for d in sim.webhooks.sent if d.hook_id == hook_id]


# -- errors are JSON, shaped as GitLab's -------------------------------------------------

ERRORS = [
    # (what, method, path, token, json body, status, body) - lib/api/api.rb, lib/api/helpers.rb
    ("no route", "GET", "/nothing/here", "sim-token", None, 404, {"error": "404 Not Found"}),
    ("wrong method", "PATCH", "/projects/acme%2Fapi/issues/1", "sim-token", None, 405,
     {"error": "405 Not Allowed"}),
    ("no token", "GET", "/projects/acme%2Fapi", None, None, 401, {"message": "401 Unauthorized"}),
    ("no project", "GET", "/projects/nope%2Fnope", "sim-token", None, 404,
     {"message": "404 Project Not Found"}),
    ("no issue", "GET", "/projects/acme%2Fapi/issues/99", "sim-token", None, 404,
     {"message": "404 Issue Not Found"}),
    ("no note", "GET", "/projects/acme%2Fapi/issues/1/notes/99", "sim-token", None, 404,
     {"message": "404 Note Not Found"}),
    ("missing parameter", "POST", "/projects/acme%2Fapi/issues", "sim-token", {}, 400,
     {"error": "title is missing"}),
    ("invalid value", "GET", "/projects/acme%2Fapi/issues?state=open", "sim-token", None, 400,
     {"error": "state does not have a valid value"}),
    ("invalid integer", "GET", "/projects/acme%2Fapi/issues?iids[]=x", "sim-token", None, 400,
     {"error": "iids is invalid"}),
    ("no link target", "POST", "/projects/acme%2Fapi/issues/1/links", "sim-token",
     {"target_project_id": "acme/api", "target_issue_iid": "x"}, 404,
     {"message": "404 Not found"}),
    ("read-only token", "POST", "/projects/acme%2Fapi/issues", "viewer-token", {"title": "x"},
     403, {"message": "403 Forbidden"}),
]  # fmt: skip


@pytest.mark.parametrize(
    ("method", "path", "token", "payload", "status", "answer"),
    [pytest.param(*row[1:], id=row[0]) for row in ERRORS],
)
def test_errors_are_json_bodies_shaped_like_gitlabs(
    gitlab_api: gitlab.Gitlab,
    gitlab_sim: Simulator,
    method: str,
    path: str,
    token: str | None,
    payload: dict[str, Any] | None,
    status: int,
    answer: dict[str, Any],
) -> None:
    r = call(gitlab_sim, method, path, token, json=payload)

    assert (r.status_code, r.headers["Content-Type"].split(";")[0], r.json()) == (
        status,
        "application/json",
        answer,
    )


def test_an_unexpected_failure_answers_gitlabs_json_500(
    gitlab_api: gitlab.Gitlab, gitlab_sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim = gitlab_sim

    def broken(*_args: Any, **_kw: Any) -> dict[str, Any]:
        raise RuntimeError("boom")

    monkeypatch.setattr(sim, "issue_rest", broken)
    r = call(sim, "GET", "/projects/acme%2Fapi/issues/1")

    assert (r.status_code, r.json()) == (500, {"message": "500 Internal Server Error"})


# -- routes python-gitlab calls ----------------------------------------------------------


def noted_issue(gl: gitlab.Gitlab) -> tuple[Any, Any]:
    issue = gl.projects.get("acme/api", lazy=True).issues.get(1)
    return issue, issue.notes.create({"body": "First thought"})


def test_python_gitlab_gets_an_issue_note(gitlab_api: gitlab.Gitlab) -> None:
    issue, note = noted_issue(gitlab_api)

    fetched = issue.notes.get(note.id)

    assert (fetched.body, fetched.noteable_iid, fetched.system) == ("First thought", 1, False)


def test_python_gitlab_edits_an_issue_note(gitlab_api: gitlab.Gitlab) -> None:
    issue, note = noted_issue(gitlab_api)

    note.body = "Second thought"
    note.save()

    assert [n.body for n in issue.notes.list()] == ["Second thought"]


def test_python_gitlab_deletes_an_issue_note(gitlab_api: gitlab.Gitlab) -> None:
    issue, note = noted_issue(gitlab_api)

    note.delete()

    assert issue.notes.list() == []


def test_python_gitlab_deletes_an_issue_link(
    gitlab_api: gitlab.Gitlab, gitlab_sim: Simulator
) -> None:
    gl = gitlab_api
    issue = gl.projects.get("acme/api", lazy=True).issues.get(1)
    issue.links.create({"target_project_id": "acme/web/site", "target_issue_iid": 1})
    [link] = issue.links.list()

    issue.links.delete(link.issue_link_id)

    assert issue.links.list() == []


def test_a_link_is_listed_from_both_issues_with_the_type_seen_from_each(
    gitlab_api: gitlab.Gitlab,
    gitlab_sim: Simulator,
) -> None:
    gl = gitlab_api
    api_issue = gl.projects.get("acme/api", lazy=True).issues.get(1)
    site_issue = gl.projects.get("acme/web/site", lazy=True).issues.get(1)

    api_issue.links.create(
        {"target_project_id": "acme/web/site", "target_issue_iid": 1, "link_type": "blocks"}
    )

    assert [link.link_type for link in api_issue.links.list()] == ["blocks"]
    assert [link.link_type for link in site_issue.links.list()] == ["is_blocked_by"]


def test_python_gitlab_deletes_an_issue(gitlab_api: gitlab.Gitlab, gitlab_sim: Simulator) -> None:
    gl = gitlab_api
    project = gl.projects.get("acme/api", lazy=True)

    project.issues.delete(3)

    with pytest.raises(gitlab.GitlabGetError) as missing:
        project.issues.get(3)
    assert missing.value.response_code == 404


def test_python_gitlab_lists_projects_and_groups(
    gitlab_api: gitlab.Gitlab, gitlab_sim: Simulator
) -> None:
    gl = gitlab_api

    projects = sorted(p.path_with_namespace for p in gl.projects.list(get_all=True))
    groups = {g.full_path: g.parent_id for g in gl.groups.list(get_all=True)}

    assert projects == ["acme/api", "acme/mobile/app", "acme/web/site"]
    acme = gl.groups.get("acme").id
    assert groups == {"acme": None, "acme/mobile": acme, "acme/web": acme}


# -- releases and the Release Hook -------------------------------------------------------


def test_python_gitlab_creates_a_release_with_milestones(
    gitlab_api: gitlab.Gitlab,
    gitlab_sim: Simulator,
) -> None:
    gl = gitlab_api
    project = gl.projects.get("acme/api", lazy=True)

    project.releases.create(
        {"tag_name": "v1.1", "name": "1.1", "ref": "main", "milestones": ["Sprint 3"]}
    )

    release = project.releases.get("v1.1")
    assert (release.name, [m["title"] for m in release.milestones]) == ("1.1", ["Sprint 3"])
    assert release.milestones[0]["group_id"] == gl.groups.get("acme").id


def test_creating_a_release_sends_the_release_hook_to_project_and_group_hooks(
    gitlab_api: gitlab.Gitlab,
    gitlab_sim: Simulator,
) -> None:
    gl, sim = gitlab_api, gitlab_sim
    project_hook = sim.add_hook(NOWHERE, project="acme/api")
    group_hook = sim.add_hook(NOWHERE, group="acme")

    gl.projects.get("acme/api", lazy=True).releases.create({"tag_name": "v2.0", "ref": "main"})

    [to_project] = deliveries(sim, project_hook)
    [to_group] = deliveries(sim, group_hook)
    assert to_project.event == to_group.event == "Release Hook"
    assert to_project.body == to_group.body
    # webhook_events.md "Release events"; Gitlab::HookData::ReleaseBuilder
    assert set(to_project.body) == {
        "id", "created_at", "description", "name", "released_at", "tag", "object_kind",
        "project", "url", "action", "assets", "commit",
    }  # fmt: skip
    assert (to_project.body["action"], to_project.body["tag"]) == ("create", "v2.0")
    assert to_project.body["project"]["path_with_namespace"] == "acme/api"
    assert to_project.body["created_at"].endswith(" UTC")


def test_editing_and_deleting_a_release_send_update_and_delete_hooks(
    gitlab_api: gitlab.Gitlab,
    gitlab_sim: Simulator,
) -> None:
    gl, sim = gitlab_api, gitlab_sim
    hook = sim.add_hook(NOWHERE, project="acme/api")
    releases = gl.projects.get("acme/api", lazy=True).releases
    release = releases.get("v1.0")

    release.description = "Notes"
    release.save()
    releases.delete("v1.0")

    assert [d.body["action"] for d in deliveries(sim, hook)] == ["update", "delete"]
    assert call(sim, "GET", "/projects/acme%2Fapi/releases/v1.0").status_code == 404


def test_the_release_service_reads_a_release_hook_the_simulator_sends(
    gitlab_api: gitlab.Gitlab,
    gitlab_sim: Simulator,
) -> None:
    from hooks.events import ReleaseEvent, parse_event

    gl, sim = gitlab_api, gitlab_sim
    hook = sim.add_hook(NOWHERE, project="acme/api")
    gl.projects.get("acme/api", lazy=True).releases.create({"tag_name": "v3.0", "ref": "main"})
    [delivery] = deliveries(sim, hook)

    event = parse_event(delivery.event, delivery.body)

    assert isinstance(event, ReleaseEvent) and event.subject == "acme/api@v3.0"


# -- documented fields ------------------------------------------------------------------


def test_a_closed_issue_names_who_closed_it(
    gitlab_api: gitlab.Gitlab, gitlab_sim: Simulator
) -> None:
    sim = gitlab_sim
    call(sim, "PUT", "/projects/acme%2Fapi/issues/1", "alice-token", json={"state_event": "close"})

    issue = call(sim, "GET", "/projects/acme%2Fapi/issues/1").json()

    assert issue["closed_by"]["username"] == "alice"
    assert issue["closed_at"] == issue["updated_at"]


def test_task_completion_status_counts_the_description_checklist(
    gitlab_api: gitlab.Gitlab,
    gitlab_sim: Simulator,
) -> None:
    issue = call(gitlab_sim, "GET", "/projects/acme%2Fapi/issues/3").json()

    assert issue["task_completion_status"] == {"count": 2, "completed_count": 1}
    assert issue["has_tasks"] is True


def test_references_are_relative_to_the_project_or_group_asked(
    gitlab_api: gitlab.Gitlab,
    gitlab_sim: Simulator,
) -> None:
    sim = gitlab_sim
    in_project = call(sim, "GET", "/projects/acme%2Fweb%2Fsite/issues").json()[0]
    in_group = call(sim, "GET", "/groups/acme/issues?search=Landing").json()[0]

    assert in_project["references"]["relative"] == "#1"
    assert in_group["references"]["relative"] == "web/site#1"
    assert in_group["references"]["full"] == "acme/web/site#1"


def group_labels(sim: Simulator) -> dict[str, dict[str, Any]]:
    found = call(sim, "GET", "/groups/acme/labels?with_counts=true").json()
    return {label["name"]: label for label in found}


def test_a_label_answers_a_text_colour_readable_on_its_colour(gitlab_sim: Simulator) -> None:
    labels = group_labels(gitlab_sim)

    assert (labels["bug"]["text_color"], labels["feature"]["text_color"]) == ("#FFFFFF", "#333333")


def test_a_label_counts_its_open_and_closed_issues_with_counts(gitlab_sim: Simulator) -> None:
    labels = group_labels(gitlab_sim)

    assert (labels["bug"]["open_issues_count"], labels["bug"]["closed_issues_count"]) == (3, 0)
    assert (labels["feature"]["open_issues_count"], labels["feature"]["closed_issues_count"]) == (
        1,
        1,
    )


def test_a_project_label_is_marked_and_carries_its_priority(
    gitlab_api: gitlab.Gitlab,
    gitlab_sim: Simulator,
) -> None:
    labels = call(gitlab_sim, "GET", "/projects/acme%2Fapi/labels").json()

    marks = {lbl["name"]: (lbl["is_project_label"], lbl["priority"]) for lbl in labels}
    assert marks == {"api-only": (True, 1), "bug": (False, None), "feature": (False, None)}


def test_a_milestone_tells_whether_it_expired(
    gitlab_api: gitlab.Gitlab, gitlab_sim: Simulator
) -> None:
    found = call(gitlab_sim, "GET", "/projects/acme%2Fapi/milestones?state=closed").json()

    assert [(m["title"], m["expired"]) for m in found] == [("v1.0", True)]
    assert found[0]["web_url"].endswith("/acme/api/-/milestones/1")


def test_a_single_issue_is_subscribed_for_its_participants_only(
    gitlab_api: gitlab.Gitlab,
    gitlab_sim: Simulator,
) -> None:
    sim = gitlab_sim
    path = "/projects/acme%2Fapi/issues/1"

    assignee = call(sim, "GET", path, "alice-token").json()
    outsider = call(sim, "GET", path).json()

    assert (assignee["subscribed"], outsider["subscribed"]) == (True, False)


def shape(value: Any) -> Any:
    """A payload's keys, nested; a list by its first item."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return None


def test_the_release_hook_has_the_shape_of_gitlabs_documented_example(
    gitlab_api: gitlab.Gitlab,
    gitlab_sim: Simulator,
) -> None:
    gl, sim = gitlab_api, gitlab_sim
    hook = sim.add_hook(NOWHERE, project="acme/api")
    documented = json.loads((FIXTURES / "release_create.json").read_text())
    gl.projects.get("acme/api", lazy=True).releases.create({"tag_name": "v4.0", "ref": "main"})

    [delivery] = deliveries(sim, hook)

    sent = shape(delivery.body)
    documented_shape = shape(documented)
    # The simulator's releases have no asset links; the documented example has some.
    documented_shape["assets"]["links"] = []
    assert sent == documented_shape


def test_the_project_milestone_hook_has_the_shape_of_gitlabs_documented_example(
    gitlab_api: gitlab.Gitlab,
    gitlab_sim: Simulator,
) -> None:
    gl, sim = gitlab_api, gitlab_sim
    hook = sim.add_hook(NOWHERE, project="acme/api")
    documented = json.loads((FIXTURES / "milestone_create.json").read_text())
    gl.projects.get("acme/api", lazy=True).milestones.create({"title": "v5.0"})

    [delivery] = deliveries(sim, hook)

    assert shape(delivery.body) == shape(documented)


# -- test deliveries ---------------------------------------------------------------------

TEST_DELIVERIES = [
    # (trigger, project, status, X-Gitlab-Event sent or the refusal) - TestHooks::ProjectService
    ("issues_events", "acme/api", 201, "Issue Hook"),
    ("confidential_issues_events", "acme/api", 201, "Confidential Issue Hook"),
    ("releases_events", "acme/api", 201, "Release Hook"),
    ("push_events", "acme/api", 201, "Push Hook"),
    ("releases_events", "acme/web/site", 422, "Ensure the project has releases."),
    ("confidential_issues_events", "acme/web/site", 422, "Ensure the project has issues."),
    ("job_events", "acme/api", 422, "The simulator builds no job_events test payload."),
    ("merge_requests_events", "acme/api", 422, "Ensure the project has merge requests."),
    ("milestone_events", "acme/api", 400, "trigger does not have a valid value"),
]


@pytest.fixture
def accepting() -> Iterator[str]:
    """The URL of a receiver that accepts every delivery."""

    class Accept(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *_args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Accept)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/hook"
    server.shutdown()


@pytest.mark.parametrize(("trigger", "project", "status", "outcome"), TEST_DELIVERIES)
def test_a_test_delivery_sends_a_sample_of_the_triggers_event(
    gitlab_api: gitlab.Gitlab,
    gitlab_sim: Simulator,
    accepting: str,
    trigger: str,
    project: str,
    status: int,
    outcome: str,
) -> None:
    sim = gitlab_sim
    hook = sim.add_hook(accepting, project=project)

    r = call(sim, "POST", f"/projects/{project.replace('/', '%2F')}/hooks/{hook}/test/{trigger}")

    sent = [d.event for d in deliveries(sim, hook)]
    if status == 201:
        assert (r.status_code, r.json(), sent) == (201, {"message": "201 Created"}, [outcome])
    else:
        assert (r.status_code, sent, next(iter(r.json().values()))) == (status, [], outcome)


def test_an_issue_test_delivery_has_the_shape_of_gitlabs_issue_hook(
    gitlab_api: gitlab.Gitlab,
    gitlab_sim: Simulator,
) -> None:
    sim = gitlab_sim
    hook = sim.add_hook(NOWHERE, project="acme/api")
    documented = json.loads((FIXTURES / "issue_open.json").read_text())

    call(sim, "POST", f"/projects/acme%2Fapi/hooks/{hook}/test/issues_events")

    [delivery] = deliveries(sim, hook)
    assert set(delivery.body) == set(documented)
    assert set(delivery.body["object_attributes"]) == set(documented["object_attributes"])


def test_an_issue_event_in_a_subgroup_project_reaches_every_ancestor_groups_hooks(
    gitlab_api: gitlab.Gitlab,
    gitlab_sim: Simulator,
) -> None:
    sim = gitlab_sim
    top = sim.add_hook(NOWHERE, group="acme")
    sub = sim.add_hook(NOWHERE, group="acme/web")
    sibling = sim.add_hook(NOWHERE, group="acme/mobile")

    call(sim, "PUT", "/projects/acme%2Fweb%2Fsite/issues/1", json={"title": "Landing v2"})

    assert [d.event for d in deliveries(sim, top)] == ["Issue Hook"]
    assert [d.event for d in deliveries(sim, sub)] == ["Issue Hook"]
    assert deliveries(sim, sibling) == []


# -- labels ------------------------------------------------------------------------------


def test_python_gitlab_renames_a_label_and_its_issues_follow(
    gitlab_api: gitlab.Gitlab,
    gitlab_sim: Simulator,
) -> None:
    gl, sim = gitlab_api, gitlab_sim
    label = gl.groups.get("acme", lazy=True).labels.get("bug")

    label.new_name = "defect"
    label.save()

    assert sim.issue("acme/web/site", 1)["labels"] == ["defect", "feature"]
    assert [lbl.name for lbl in gl.groups.get("acme", lazy=True).labels.list()] == [
        "defect",
        "feature",
    ]


def test_deleting_a_label_takes_it_off_its_issues(
    gitlab_api: gitlab.Gitlab, gitlab_sim: Simulator
) -> None:
    gl, sim = gitlab_api, gitlab_sim

    gl.projects.get("acme/api", lazy=True).labels.delete("api-only")

    assert sim.issue("acme/api", 1)["labels"] == ["bug"]


def test_a_project_cannot_edit_its_groups_label(
    gitlab_api: gitlab.Gitlab, gitlab_sim: Simulator
) -> None:
    r = call(gitlab_sim, "PUT", "/projects/acme%2Fapi/labels/bug", json={"color": "#000000"})

    assert (r.status_code, r.json()) == (404, {"message": "404 Label Not Found"})


def test_a_throttled_request_answers_gitlabs_plain_text_429(
    gitlab_api: gitlab.Gitlab,
    gitlab_sim: Simulator,
) -> None:
    sim = gitlab_sim
    sim.faults.add(Fault(path="/api/v4/user", rate_limit_per_minute=1, window_s=3600))
    call(sim, "GET", "/user")

    r = call(sim, "GET", "/user")

    assert (r.status_code, r.headers["Content-Type"].split(";")[0], r.text) == (
        429,
        "text/plain",
        "Retry later\n",
    )
    assert int(r.headers["Retry-After"]) >= 1


def test_under_the_api_throttle_every_answer_says_where_the_account_stands(
    gitlab_api: gitlab.Gitlab,
    gitlab_sim: Simulator,
) -> None:
    # GitLab's self-managed default: 7,200 requests an hour, said per minute (rounded up).
    gitlab_sim.faults.add(Fault(path="/api/v4/user", rate_limit_per_minute=7200, window_s=3600))
    first = call(gitlab_sim, "GET", "/user")

    second = call(gitlab_sim, "GET", "/user")

    said = {k: second.headers[f"RateLimit-{k}"] for k in ("Name", "Limit", "Observed", "Remaining")}
    assert said == {
        "Name": "throttle_authenticated_api",
        "Limit": "120",
        "Observed": str(int(first.headers["RateLimit-Observed"]) + 1),
        "Remaining": str(7200 - int(first.headers["RateLimit-Observed"]) - 1),
    }
    reset = int(second.headers["RateLimit-Reset"])
    assert reset % 3600 == 0 and 0 < reset - time.time() <= 3600  # windows aligned to Unix time


def test_a_throttled_answer_adds_the_reset_as_a_date_and_retry_after(
    gitlab_api: gitlab.Gitlab,
    gitlab_sim: Simulator,
) -> None:
    gitlab_sim.faults.add(Fault(path="/api/v4/user", rate_limit_per_minute=1, window_s=3600))
    call(gitlab_sim, "GET", "/user")

    r = call(gitlab_sim, "GET", "/user")

    reset = int(r.headers["RateLimit-Reset"])
    assert r.status_code == 429 and r.headers["RateLimit-Remaining"] == "0"
    assert r.headers["RateLimit-ResetTime"] == formatdate(reset, usegmt=True)
    assert 0 < int(r.headers["Retry-After"]) <= reset - time.time() + 1


def test_an_application_limit_answers_json_429_without_rate_limit_headers(
    gitlab_api: gitlab.Gitlab,
    gitlab_sim: Simulator,
) -> None:
    gitlab_sim.faults.add(
        Fault(path="/api/v4/user", rate_limit_per_minute=1, window_s=3600, application_limit=True)
    )
    allowed = call(gitlab_sim, "GET", "/user")

    r = call(gitlab_sim, "GET", "/user")

    assert (r.status_code, r.json()) == (
        429,
        {"message": {"error": "This endpoint has been requested too many times. Try again later."}},
    )
    assert not [h for h in (*allowed.headers, *r.headers) if h.lower().startswith("ratelimit")]


def test_an_injected_server_error_answers_gitlabs_json_500(
    gitlab_api: gitlab.Gitlab,
    gitlab_sim: Simulator,
) -> None:
    sim = gitlab_sim
    sim.faults.add(Fault(path="/api/v4/user", error_rate=1.0, statuses=(500,)))

    r = call(sim, "GET", "/user")

    assert (r.status_code, r.json()) == (500, {"message": "500 Internal Server Error"})
