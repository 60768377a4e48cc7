"""The simulator's repositories (doc/api/repositories.md, repository_files.md, branches.md):
trees, files and branches answered as GitLab answers them, through python-gitlab, and the
seeds that put files into a project."""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path
from typing import Any

import gitlab
import pytest
import requests

from hooks.testing.sim_git import ZERO_SHA
from hooks.testing.simulator import Simulator, SimulatorThread
from tests.sim_seed import TEAM_SEED

NOWHERE = "http://127.0.0.1:9/unreachable"
RULES = "rules:\n- name: a\n  on: {issue: [open]}\n  do: []\n"
FILES = {
    "README.md": "The team's rules\n",
    "rules/10-triage.yaml": RULES,
    "rules/20-rollover.yaml": "rules: []\n",
    "rules/lib/shared.yaml": "x: 1\n",
}


@pytest.fixture
def gitlab_seed() -> dict[str, Any]:
    """The team seed with files in acme/api's default branch."""
    return {**TEAM_SEED, "repositories": [{"project": "acme/api", "files": FILES}]}


def call(sim: Simulator, method: str, path: str, **kw: Any) -> requests.Response:
    headers = {"PRIVATE-TOKEN": kw.pop("token", "sim-token")}
    return requests.request(method, f"{sim.url}/api/v4{path}", headers=headers, timeout=5, **kw)


def project(gl: gitlab.Gitlab) -> Any:
    return gl.projects.get("acme/api", lazy=True)


P = "/projects/acme%2Fapi/repository"


# -- the tree ------------------------------------------------------------------------------


def test_the_tree_lists_the_top_directory_with_directories_first(gitlab_api: gitlab.Gitlab) -> None:
    tree = project(gitlab_api).repository_tree()

    assert [(e["type"], e["path"], e["mode"]) for e in tree] == [
        ("tree", "rules", "040000"),
        ("blob", "README.md", "100644"),
    ]


def test_a_recursive_tree_lists_every_directory_and_file(gitlab_api: gitlab.Gitlab) -> None:
    tree = project(gitlab_api).repository_tree(recursive=True, get_all=True)

    assert [e["path"] for e in tree] == [
        "rules",
        "rules/lib",
        "README.md",
        "rules/10-triage.yaml",
        "rules/20-rollover.yaml",
        "rules/lib/shared.yaml",
    ]


def test_the_tree_of_a_path_lists_only_what_is_inside(gitlab_api: gitlab.Gitlab) -> None:
    tree = project(gitlab_api).repository_tree(path="rules")

    assert [(e["name"], e["path"]) for e in tree] == [
        ("lib", "rules/lib"),
        ("10-triage.yaml", "rules/10-triage.yaml"),
        ("20-rollover.yaml", "rules/20-rollover.yaml"),
    ]


def test_the_tree_is_paged_with_gitlabs_headers(gitlab_sim: Simulator) -> None:
    r = call(gitlab_sim, "GET", f"{P}/tree?recursive=true&per_page=2&page=2")

    assert [e["path"] for e in r.json()] == ["README.md", "rules/10-triage.yaml"]
    assert (r.headers["X-Total"], r.headers["X-Total-Pages"], r.headers["X-Next-Page"]) == (
        "6",
        "3",
        "3",
    )


def test_python_gitlab_walks_the_tree_by_keyset_pages(gitlab_api: gitlab.Gitlab) -> None:
    pages = project(gitlab_api).repository_tree(
        recursive=True, pagination="keyset", per_page=4, iterator=True
    )

    assert [e["path"] for e in pages] == [
        "rules",
        "rules/lib",
        "README.md",
        "rules/10-triage.yaml",
        "rules/20-rollover.yaml",
        "rules/lib/shared.yaml",
    ]


def test_an_unpaged_tree_must_be_recursive(gitlab_sim: Simulator) -> None:
    r = call(gitlab_sim, "GET", f"{P}/tree?pagination=none")

    assert (r.status_code, r.json()) == (
        400,
        {"error": 'pagination cannot be "none" unless "recursive" is true'},
    )


def test_the_tree_of_an_unknown_ref_is_not_found(gitlab_sim: Simulator) -> None:
    r = call(gitlab_sim, "GET", f"{P}/tree?ref=nope")

    assert (r.status_code, r.json()) == (404, {"message": "404 Tree Not Found"})


def test_the_tree_of_a_path_that_is_no_directory_is_not_found(gitlab_sim: Simulator) -> None:
    r = call(gitlab_sim, "GET", f"{P}/tree?path=bogus")

    assert (r.status_code, r.json()) == (404, {"message": "404 invalid revision or path Not Found"})


def test_a_project_without_commits_is_an_empty_repository_with_no_tree(
    gitlab_api: gitlab.Gitlab, gitlab_sim: Simulator
) -> None:
    r = call(gitlab_sim, "GET", "/projects/acme%2Fweb%2Fsite/repository/tree")

    assert gitlab_api.projects.get("acme/web/site").empty_repo is True
    assert (r.status_code, r.json()) == (404, {"message": "404 Tree Not Found"})


# -- files ---------------------------------------------------------------------------------


def test_a_file_answers_its_content_in_base64(gitlab_api: gitlab.Gitlab) -> None:
    f = project(gitlab_api).files.get("rules/10-triage.yaml", ref="main")

    assert (f.file_name, f.encoding, f.size, f.ref) == (
        "10-triage.yaml",
        "base64",
        len(RULES),
        "main",
    )
    assert base64.b64decode(f.content).decode() == RULES


def test_a_files_blob_id_is_the_one_git_computes(gitlab_api: gitlab.Gitlab, tmp_path: Path) -> None:
    (tmp_path / "f").write_text(RULES)
    by_git = subprocess.run(
        ["git", "hash-object", str(tmp_path / "f")], capture_output=True, text=True, check=True
    ).stdout.strip()

    f = project(gitlab_api).files.get("rules/10-triage.yaml", ref="main")

    assert f.blob_id == by_git


def test_a_files_last_commit_is_the_one_that_changed_it(
    gitlab_api: gitlab.Gitlab, gitlab_sim: Simulator
) -> None:
    first = gitlab_sim.branch_head("acme/api")
    later = gitlab_sim.seed_repository("acme/api", {"README.md": "Changed\n"})

    f = project(gitlab_api).files.get("rules/10-triage.yaml", ref="main")

    assert (f.commit_id, f.last_commit_id) == (later, first)


def test_a_raw_file_answers_its_bytes(gitlab_api: gitlab.Gitlab) -> None:
    raw = project(gitlab_api).files.raw("rules/10-triage.yaml", ref="main")

    assert raw == RULES.encode()


def test_a_file_at_a_commit_sha_answers_that_version(
    gitlab_api: gitlab.Gitlab, gitlab_sim: Simulator
) -> None:
    old = gitlab_sim.branch_head("acme/api")
    gitlab_sim.seed_repository("acme/api", {"rules/20-rollover.yaml": "rules: [changed]\n"})

    raw = project(gitlab_api).files.raw("rules/20-rollover.yaml", ref=old[:8])

    assert raw == b"rules: []\n"


def test_a_raw_file_keeps_the_urls_it_mentions(
    gitlab_api: gitlab.Gitlab, gitlab_sim: Simulator
) -> None:
    text = "link: http://gitlab.sim/acme/api\n"
    gitlab_sim.seed_repository("acme/api", {"links.yaml": text})

    assert project(gitlab_api).files.raw("links.yaml", ref="main") == text.encode()


def test_a_project_the_token_may_not_read_is_not_found() -> None:
    seed = {**TEAM_SEED, "users": [*TEAM_SEED["users"], {"username": "outsider", "token": "out-token", "no_access": ["acme/api"]}]}  # fmt: skip
    with SimulatorThread(Simulator(seed)) as sim:
        r = call(sim, "GET", f"{P}/tree", token="out-token")
        visible = call(sim, "GET", "/projects/acme%2Fweb%2Fsite", token="out-token")

    assert (r.status_code, r.json()) == (404, {"message": "404 Project Not Found"})
    assert visible.status_code == 200


def test_a_files_head_answers_its_data_as_headers(gitlab_sim: Simulator) -> None:
    r = requests.head(
        f"{gitlab_sim.url}/api/v4{P}/files/rules%2F10-triage.yaml?ref=main",
        headers={"PRIVATE-TOKEN": "sim-token"},
        timeout=5,
    )

    assert (r.status_code, r.content) == (200, b"")
    assert (r.headers["X-Gitlab-File-Path"], r.headers["X-Gitlab-Size"]) == (
        "rules/10-triage.yaml",
        str(len(RULES)),
    )


def test_a_blob_is_read_by_the_id_the_tree_lists(gitlab_api: gitlab.Gitlab) -> None:
    [entry] = [
        e
        for e in project(gitlab_api).repository_tree(path="rules")
        if e["name"] == "10-triage.yaml"
    ]

    blob = project(gitlab_api).repository_blob(entry["id"])
    raw = project(gitlab_api).repository_raw_blob(entry["id"])

    assert (base64.b64decode(blob["content"]).decode(), raw) == (RULES, RULES.encode())


def test_an_unknown_blob_is_not_found(gitlab_sim: Simulator) -> None:
    r = call(gitlab_sim, "GET", f"{P}/blobs/{'b' * 40}")

    assert (r.status_code, r.json()) == (404, {"message": "404 Blob Not Found"})


def test_a_missing_file_is_not_found(gitlab_sim: Simulator) -> None:
    r = call(gitlab_sim, "GET", f"{P}/files/rules%2Fnope.yaml?ref=main")

    assert (r.status_code, r.json()) == (404, {"message": "404 File Not Found"})


def test_a_file_at_an_unknown_ref_names_the_commit_not_found(gitlab_sim: Simulator) -> None:
    r = call(gitlab_sim, "GET", f"{P}/files/README.md?ref=nope")

    assert (r.status_code, r.json()) == (404, {"message": "404 Commit Not Found"})


def test_a_file_asked_without_ref_is_refused(gitlab_sim: Simulator) -> None:
    r = call(gitlab_sim, "GET", f"{P}/files/README.md")

    assert (r.status_code, r.json()) == (400, {"error": "ref is missing"})


def test_a_raw_file_without_ref_is_read_from_the_default_branch(gitlab_sim: Simulator) -> None:
    r = call(gitlab_sim, "GET", f"{P}/files/README.md/raw")

    assert (r.status_code, r.text) == (200, FILES["README.md"])


# -- branches ------------------------------------------------------------------------------


def test_branches_are_listed_by_name_with_the_default_marked(
    gitlab_api: gitlab.Gitlab, gitlab_sim: Simulator
) -> None:
    gitlab_sim.seed_repository("acme/api", {"x": "y"}, "feature")

    branches = project(gitlab_api).branches.list()

    assert [(b.name, b.default, b.protected) for b in branches] == [
        ("feature", False, False),
        ("main", True, True),
    ]


def test_a_branch_answers_its_head_commit(gitlab_api: gitlab.Gitlab, gitlab_sim: Simulator) -> None:
    branch = project(gitlab_api).branches.get("main")

    assert branch.commit["id"] == gitlab_sim.branch_head("acme/api")


def test_an_unknown_branch_is_not_found(gitlab_sim: Simulator) -> None:
    r = call(gitlab_sim, "GET", f"{P}/branches/nope")

    assert (r.status_code, r.json()) == (404, {"message": "404 Branch Not Found"})


def test_creating_a_branch_sends_a_push_without_commits(
    gitlab_api: gitlab.Gitlab, gitlab_sim: Simulator
) -> None:
    hook = gitlab_sim.add_hook(NOWHERE, project="acme/api")

    project(gitlab_api).branches.create({"branch": "feature/x", "ref": "main"})

    assert gitlab_sim.wait_webhooks_idle()
    [push] = [d.body for d in gitlab_sim.webhooks.sent if d.hook_id == hook]
    assert (push["ref"], push["before"], push["commits"], push["total_commits_count"]) == (
        "refs/heads/feature/x",
        ZERO_SHA,
        [],
        0,
    )


def test_creating_an_existing_branch_is_refused(gitlab_sim: Simulator) -> None:
    r = call(gitlab_sim, "POST", f"{P}/branches", json={"branch": "main", "ref": "main"})

    assert (r.status_code, r.json()) == (400, {"message": "Branch already exists"})


def test_the_default_branch_cannot_be_deleted(gitlab_sim: Simulator) -> None:
    r = call(gitlab_sim, "DELETE", f"{P}/branches/main")

    assert (r.status_code, r.json()) == (
        405,
        {"message": "The default branch of a project cannot be deleted."},
    )


# -- seeds ---------------------------------------------------------------------------------


def test_a_seed_puts_a_folder_into_a_repository_under_a_prefix(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "10-a.yaml").write_text("a: 1\n")
    (tmp_path / "sub" / "b.yaml").write_text("b: 2\n")
    seed = {
        "projects": [{"path": "team/rules"}],
        "repositories": [{"project": "team/rules", "from_dir": str(tmp_path), "prefix": "rules"}],
    }

    sim = Simulator(seed)

    assert sim.file("team/rules", "rules/sub/b.yaml") == "b: 2\n"
    assert sim.file("team/rules", "rules/10-a.yaml") == "a: 1\n"


def test_a_seeded_branch_holds_exactly_its_files(gitlab_sim: Simulator) -> None:
    seed = {**TEAM_SEED, "repositories": [
        {"project": "acme/api", "files": {"a": "1", "b": "2"}},
        {"project": "acme/api", "branch": "topic", "files": {"a": "changed"}},
    ]}  # fmt: skip

    sim = Simulator(seed)

    assert sim.file("acme/api", "a", "topic") == "changed"
    with pytest.raises(KeyError):
        sim.file("acme/api", "b", "topic")


def test_a_dumped_state_reloads_its_repositories(gitlab_sim: Simulator) -> None:
    gitlab_sim.seed_repository("acme/api", {"README.md": "Changed\n"}, "topic")

    again = Simulator(gitlab_sim.dump())

    assert again.file("acme/api", "README.md", "topic") == "Changed\n"
    assert again.file("acme/api", "rules/10-triage.yaml") == RULES


def test_a_seeded_projects_default_branch_is_where_files_go_and_what_head_means() -> None:
    seed = {
        "projects": [{"path": "team/rules", "default_branch": "master"}],
        "repositories": [{"project": "team/rules", "files": {"rules/a.yaml": "a"}}],
    }

    sim = Simulator(seed)

    assert sim.branch_head("team/rules", "master") == sim.branch_head("team/rules")
    assert sim.file("team/rules", "rules/a.yaml", "HEAD") == "a"
    assert Simulator(sim.dump()).file("team/rules", "rules/a.yaml", "master") == "a"
