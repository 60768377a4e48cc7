"""Commit statuses in the simulator (doc/api/commits.md "Commit status"): set through
python-gitlab, moved on while pending or running, listed latest first per name; refused
with GitLab's answers."""

from __future__ import annotations

from typing import Any

import gitlab
import pytest
import requests

from hooks.testing.simulator import Simulator
from tests.sim_seed import TEAM_SEED


@pytest.fixture
def gitlab_seed() -> dict[str, Any]:
    """The team seed, acme/api with one commit, and a user who may only read."""
    viewer = {"username": "viewer", "token": "viewer-token", "read_only": True}
    return {
        **TEAM_SEED,
        "users": [*TEAM_SEED["users"], viewer],
        "repositories": [{"project": "acme/api", "files": {"rules/10-a.yaml": "rules: []\n"}}],
    }


def call(sim: Simulator, method: str, path: str, **kw: Any) -> requests.Response:
    headers = {"PRIVATE-TOKEN": kw.pop("token", "sim-token")}
    return requests.request(method, f"{sim.url}/api/v4{path}", headers=headers, timeout=5, **kw)


def head(gl: gitlab.Gitlab) -> Any:
    return gl.projects.get("acme/api", lazy=True).commits.get("main")


def set_status(
    sim: Simulator, state: str, token: str = "sim-token", **extra: Any
) -> requests.Response:
    sha = sim.branch_head("acme/api")
    path = f"/projects/acme%2Fapi/statuses/{sha}"
    return call(sim, "POST", path, json={"state": state, **extra}, token=token)


def test_python_gitlab_sets_a_named_status_on_a_commit(gitlab_api: gitlab.Gitlab) -> None:
    status = head(gitlab_api).statuses.create(
        {"state": "success", "name": "hooks/rules", "description": "3 rules, no change"}
    )

    assert (status.status, status.name, status.ref, status.description) == (
        "success",
        "hooks/rules",
        "main",
        "3 rules, no change",
    )
    assert status.finished_at is not None and status.author["username"] == "hooks-bot"


def test_a_status_without_a_name_is_named_default(gitlab_sim: Simulator) -> None:
    assert set_status(gitlab_sim, "pending").json()["name"] == "default"


def test_a_pending_status_moves_on_to_success_in_place(
    gitlab_api: gitlab.Gitlab, gitlab_sim: Simulator
) -> None:
    first = set_status(gitlab_sim, "pending", name="hooks/rules").json()
    final = set_status(gitlab_sim, "success", name="hooks/rules").json()

    listed = head(gitlab_api).statuses.list()

    assert final["id"] == first["id"]
    assert [(s.id, s.status) for s in listed] == [(first["id"], "success")]


def test_a_finished_status_set_again_is_a_new_status_and_the_list_shows_the_latest(
    gitlab_api: gitlab.Gitlab, gitlab_sim: Simulator
) -> None:
    set_status(gitlab_sim, "failed", name="hooks/rules")
    set_status(gitlab_sim, "success", name="hooks/rules")

    latest = head(gitlab_api).statuses.list()
    # `all` is python-gitlab's own keyword (every page), so it goes as a query parameter.
    every = head(gitlab_api).statuses.list(query_parameters={"all": "true"})

    assert [s.status for s in latest] == ["success"]
    assert [s.status for s in every] == ["failed", "success"]


def test_the_commit_shows_the_status_of_its_checks(
    gitlab_api: gitlab.Gitlab, gitlab_sim: Simulator
) -> None:
    set_status(gitlab_sim, "success", name="lint")
    set_status(gitlab_sim, "failed", name="hooks/rules")

    commit = head(gitlab_api)

    assert commit.status == "failed"
    assert commit.last_pipeline["status"] == "failed"


def test_statuses_are_filtered_by_name(gitlab_api: gitlab.Gitlab, gitlab_sim: Simulator) -> None:
    set_status(gitlab_sim, "success", name="lint")
    set_status(gitlab_sim, "running", name="hooks/rules")

    listed = head(gitlab_api).statuses.list(name="hooks/rules")

    assert [(s.name, s.status) for s in listed] == [("hooks/rules", "running")]


REFUSALS = [
    # (what, body, status, answer) - lib/api/commit_statuses.rb
    ("unknown state", {"state": "done"}, 400, {"error": "state does not have a valid value"}),
    ("no state", {}, 400, {"error": "state is missing"}),
    ("description over 255", {"state": "success", "description": "x" * 256}, 400,
     {"message": {"description": ["is too long (maximum is 255 characters)"]}}),
]  # fmt: skip


@pytest.mark.parametrize(
    ("payload", "status", "answer"), [pytest.param(*r[1:], id=r[0]) for r in REFUSALS]
)
def test_a_status_gitlab_refuses_answers_why(
    gitlab_sim: Simulator, payload: dict[str, Any], status: int, answer: dict[str, Any]
) -> None:
    sha = gitlab_sim.branch_head("acme/api")

    r = call(gitlab_sim, "POST", f"/projects/acme%2Fapi/statuses/{sha}", json=payload)

    assert (r.status_code, r.json()) == (status, answer)
    assert gitlab_sim.commit_statuses("acme/api", sha) == []


def test_setting_pending_twice_is_a_transition_gitlab_refuses(gitlab_sim: Simulator) -> None:
    set_status(gitlab_sim, "pending", name="hooks/rules")

    r = set_status(gitlab_sim, "pending", name="hooks/rules")

    assert (r.status_code, r.json()) == (
        400,
        {
            "message": "Cannot transition status via :enqueue from :pending "
            '(Reason(s): Status cannot transition via "enqueue")'
        },
    )


def test_a_status_on_an_unknown_commit_is_not_found(gitlab_sim: Simulator) -> None:
    r = call(
        gitlab_sim, "POST", f"/projects/acme%2Fapi/statuses/{'a' * 40}", json={"state": "success"}
    )

    assert (r.status_code, r.json()) == (404, {"message": "404 Commit Not Found"})


def test_a_read_only_token_cannot_set_a_status(gitlab_sim: Simulator) -> None:
    r = set_status(gitlab_sim, "success", token="viewer-token")

    assert (r.status_code, r.json()) == (403, {"message": "403 Forbidden"})
