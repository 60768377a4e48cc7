"""The simulator's members API (doc/api/members.md) and `GitlabOps.member_access_level`."""

from __future__ import annotations

from typing import Any

import gitlab
import pytest
import requests

from hooks.gitlab.ops import GitlabOps
from hooks.testing.simulator import Simulator


@pytest.fixture
def gitlab_seed() -> dict[str, Any]:
    return {
        "users": [
            {"username": "hooks-bot", "token": "sim-token"},
            {"username": "alice"},
            {"username": "bob"},
            {"username": "carol"},
            {"username": "dave"},
        ],
        "groups": [{"path": "acme"}, {"path": "acme/web"}],
        "projects": [{"path": "acme/web/site"}],
        "members": [
            {"project": "acme/web/site", "user": "alice", "access_level": "developer"},
            {"project": "acme/web/site", "user": "bob", "access_level": "guest"},
            {"group": "acme", "user": "bob", "access_level": 40},
            {"group": "acme/web", "user": "carol", "access_level": "reporter"},
        ],
    }


def get(sim: Simulator, path: str) -> requests.Response:
    return requests.get(
        f"{sim.url}/api/v4{path}", headers={"PRIVATE-TOKEN": "sim-token"}, timeout=5
    )


def site(path: str) -> str:
    return f"/projects/acme%2Fweb%2Fsite{path}"


def test_direct_members_are_the_projects_own_with_their_access_levels(
    gitlab_sim: Simulator,
) -> None:
    answer = get(gitlab_sim, site("/members")).json()
    assert [(m["username"], m["access_level"]) for m in answer] == [("alice", 30), ("bob", 10)]
    assert {"id", "name", "state", "web_url", "created_at", "expires_at"} <= set(answer[0])


def test_all_members_include_ancestor_groups_with_the_highest_level_winning(
    gitlab_sim: Simulator,
) -> None:
    answer = get(gitlab_sim, site("/members/all")).json()
    assert [(m["username"], m["access_level"]) for m in answer] == [
        ("alice", 30),
        ("bob", 40),
        ("carol", 20),
    ]


def test_one_inherited_member_is_found_through_the_group(gitlab_sim: Simulator) -> None:
    carol = gitlab_sim.state.user_by_name("carol")
    assert carol is not None
    answer = get(gitlab_sim, site(f"/members/all/{carol['id']}"))
    assert answer.status_code == 200
    assert answer.json()["access_level"] == 20


def test_an_inherited_member_is_not_a_direct_member(gitlab_sim: Simulator) -> None:
    carol = gitlab_sim.state.user_by_name("carol")
    assert carol is not None
    answer = get(gitlab_sim, site(f"/members/{carol['id']}"))
    assert (answer.status_code, answer.json()) == (404, {"message": "404 Not found"})


def test_a_non_member_is_404_not_found(gitlab_sim: Simulator) -> None:
    dave = gitlab_sim.state.user_by_name("dave")
    assert dave is not None
    answer = get(gitlab_sim, site(f"/members/all/{dave['id']}"))
    assert (answer.status_code, answer.json()) == (404, {"message": "404 Not found"})


def test_group_members_and_all_members_of_a_subgroup(gitlab_sim: Simulator) -> None:
    direct = get(gitlab_sim, "/groups/acme%2Fweb/members").json()
    every = get(gitlab_sim, "/groups/acme%2Fweb/members/all").json()
    assert [m["username"] for m in direct] == ["carol"]
    assert [m["username"] for m in every] == ["bob", "carol"]


def test_members_are_filtered_by_query_and_user_ids(gitlab_sim: Simulator) -> None:
    alice = gitlab_sim.state.user_by_name("alice")
    assert alice is not None
    by_name = get(gitlab_sim, site("/members/all?query=car")).json()
    by_id = get(gitlab_sim, site(f"/members/all?user_ids[]={alice['id']}")).json()
    assert [m["username"] for m in by_name] == ["carol"]
    assert [m["username"] for m in by_id] == ["alice"]


def test_an_unknown_project_is_404_project_not_found(gitlab_sim: Simulator) -> None:
    answer = get(gitlab_sim, "/projects/acme%2Fnope/members/all")
    assert (answer.status_code, answer.json()) == (404, {"message": "404 Project Not Found"})


def test_python_gitlab_lists_inherited_project_members(gitlab_api: gitlab.Gitlab) -> None:
    project = gitlab_api.projects.get("acme/web/site", lazy=True)
    levels = {m.username: m.access_level for m in project.members_all.list(get_all=True)}
    assert levels == {"alice": 30, "bob": 40, "carol": 20}


def test_member_access_level_reads_the_effective_level_or_none(
    gitlab_sim: Simulator, gitlab_api: gitlab.Gitlab
) -> None:
    ops = GitlabOps(gitlab_api)
    uid = {u["username"]: u["id"] for u in gitlab_sim.state.users.values()}
    assert ops.member_access_level("acme/web/site", uid["bob"]) == 40
    assert ops.member_access_level("acme/web/site", uid["carol"]) == 20
    assert ops.member_access_level("acme/web/site", uid["dave"]) is None


def test_member_access_level_of_an_unknown_project_is_an_error(gitlab_api: gitlab.Gitlab) -> None:
    with pytest.raises(gitlab.exceptions.GitlabHttpError):
        GitlabOps(gitlab_api).member_access_level("acme/nope", 2)


def test_seeded_members_survive_a_dump_and_load(gitlab_sim: Simulator) -> None:
    again = Simulator(gitlab_sim.dump())
    assert again.state.members == {
        k: {u: {**m, "created_at": again.state.members[k][u]["created_at"]} for u, m in v.items()}
        for k, v in gitlab_sim.state.members.items()
    }
