"""The simulator's commits (doc/api/commits.md, repository_files.md): made through
python-gitlab or a test's helper, each one sending GitLab's Push Hook; listed, read,
commented; refused with GitLab's messages."""

from __future__ import annotations

import json
from typing import Any

import gitlab
import pytest
import requests

from hooks.testing.sim_webhooks import SentDelivery
from hooks.testing.simulator import Simulator, SimulatorThread
from tests.conftest import FIXTURES
from tests.sim_seed import TEAM_SEED

NOWHERE = "http://127.0.0.1:9/unreachable"
P = "/projects/acme%2Fapi/repository"


@pytest.fixture
def gitlab_seed() -> dict[str, Any]:
    """The team seed, acme/api with two files, and a user who may only read."""
    viewer = {"username": "viewer", "token": "viewer-token", "read_only": True}
    files = {"README.md": "Hello\n", "rules/10-a.yaml": "a: 1\n"}
    return {
        **TEAM_SEED,
        "users": [*TEAM_SEED["users"], viewer],
        "repositories": [{"project": "acme/api", "files": files}],
    }


def call(sim: Simulator, method: str, path: str, **kw: Any) -> requests.Response:
    headers = {"PRIVATE-TOKEN": kw.pop("token", "sim-token")}
    return requests.request(method, f"{sim.url}/api/v4{path}", headers=headers, timeout=5, **kw)


def project(gl: gitlab.Gitlab) -> Any:
    return gl.projects.get("acme/api", lazy=True)


def pushes(sim: Simulator, hook: int) -> list[dict[str, Any]]:
    assert sim.wait_webhooks_idle()
    return [d.body for d in sim.webhooks.sent if d.hook_id == hook and d.event == "Push Hook"]


def commit(gl: gitlab.Gitlab, actions: list[dict[str, Any]], **extra: Any) -> Any:
    data = {"branch": "main", "commit_message": "Change rules", "actions": actions, **extra}
    return project(gl).commits.create(data)


def shape(value: Any) -> Any:
    """A payload's keys, nested; a list of objects by its first item, other lists as lists."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value and isinstance(value[0], dict) else "list"
    return None


# -- making commits ------------------------------------------------------------------------


def test_python_gitlab_commits_several_file_actions_at_once(
    gitlab_api: gitlab.Gitlab, gitlab_sim: Simulator
) -> None:
    commit(
        gitlab_api,
        [
            {"action": "create", "file_path": "rules/20-b.yaml", "content": "b: 2\n"},
            {"action": "update", "file_path": "README.md", "content": "Bye\n"},
            {"action": "move", "file_path": "rules/11-a.yaml", "previous_path": "rules/10-a.yaml"},
        ],
    )

    tree = project(gitlab_api).repository_tree(recursive=True)
    assert sorted(e["path"] for e in tree if e["type"] == "blob") == [
        "README.md",
        "rules/11-a.yaml",
        "rules/20-b.yaml",
    ]
    assert gitlab_sim.file("acme/api", "rules/11-a.yaml") == "a: 1\n"


def test_a_commit_answers_its_detail_with_stats(gitlab_api: gitlab.Gitlab) -> None:
    made = commit(gitlab_api, [{"action": "update", "file_path": "README.md", "content": "B\n"}])

    assert (made.title, made.stats, made.status) == (
        "Change rules",
        {"additions": 1, "deletions": 1, "total": 2},
        None,
    )


def test_a_commit_takes_its_author_from_the_request(gitlab_api: gitlab.Gitlab) -> None:
    made = commit(
        gitlab_api,
        [{"action": "delete", "file_path": "README.md"}],
        author_name="Ada",
        author_email="ada@example.com",
    )

    assert (made.author_name, made.author_email, made.committer_name) == (
        "Ada",
        "ada@example.com",
        "Hooks Bot",
    )


def test_base64_content_is_decoded(gitlab_api: gitlab.Gitlab, gitlab_sim: Simulator) -> None:
    commit(
        gitlab_api,
        [{"action": "create", "file_path": "x.txt", "content": "aGk=", "encoding": "base64"}],
    )

    assert gitlab_sim.file("acme/api", "x.txt") == "hi"


def test_a_new_branch_starts_from_start_branch(
    gitlab_api: gitlab.Gitlab, gitlab_sim: Simulator
) -> None:
    made = commit(
        gitlab_api,
        [{"action": "create", "file_path": "new.txt", "content": "n"}],
        branch="topic",
        start_branch="main",
    )

    assert made.parent_ids == [gitlab_sim.branch_head("acme/api", "main")]
    assert gitlab_sim.file("acme/api", "README.md", "topic") == "Hello\n"


def test_python_gitlab_creates_a_single_file(
    gitlab_api: gitlab.Gitlab, gitlab_sim: Simulator
) -> None:
    project(gitlab_api).files.create(
        {"file_path": "rules/30-c.yaml", "branch": "main", "content": "c", "commit_message": "c"}
    )

    assert gitlab_sim.file("acme/api", "rules/30-c.yaml") == "c"


REFUSALS = [
    # (what, actions, extra body, status, answer) - Commits::CreateService, Grape validation
    ("unknown branch", [{"action": "create", "file_path": "n", "content": ""}], {"branch": "x"},
     400, {"message": "You can only create or edit files when you are on a branch"}),
    ("existing branch as new", [{"action": "create", "file_path": "n", "content": ""}],
     {"branch": "main", "start_branch": "topic"}, 400,
     {"message": "You can only create or edit files when you are on a branch"}),
    ("create existing", [{"action": "create", "file_path": "README.md", "content": ""}], {},
     400, {"message": "A file with this name already exists"}),
    ("update missing", [{"action": "update", "file_path": "nope", "content": ""}], {},
     400, {"message": "A file with this name doesn't exist"}),
    ("delete missing", [{"action": "delete", "file_path": "nope"}], {},
     400, {"message": "A file with this name doesn't exist"}),
    ("unknown action", [{"action": "copy", "file_path": "README.md"}], {},
     400, {"error": "actions[0][action] does not have a valid value"}),
    ("no path", [{"action": "create", "content": ""}], {},
     400, {"error": "actions[0][file_path] is missing"}),
    ("no actions", [], {}, 400, {"error": "actions is empty"}),
]  # fmt: skip


@pytest.mark.parametrize(
    ("actions", "extra", "status", "answer"),
    [pytest.param(*row[1:], id=row[0]) for row in REFUSALS],
)
def test_a_commit_gitlab_refuses_answers_its_reason_and_changes_nothing(
    gitlab_sim: Simulator,
    actions: list[dict[str, Any]],
    extra: dict[str, Any],
    status: int,
    answer: dict[str, Any],
) -> None:
    head = gitlab_sim.branch_head("acme/api")
    payload = {"branch": "main", "commit_message": "m", "actions": actions, **extra}

    r = call(gitlab_sim, "POST", f"{P}/commits", json=payload)

    assert (r.status_code, r.json()) == (status, answer)
    assert gitlab_sim.branch_head("acme/api") == head


def test_a_commit_without_its_required_parameters_names_them(gitlab_sim: Simulator) -> None:
    r = call(gitlab_sim, "POST", f"{P}/commits", json={})

    assert (r.status_code, r.json()) == (
        400,
        {"error": "branch is missing, commit_message is missing, actions is missing"},
    )


def test_a_read_only_token_cannot_commit(gitlab_sim: Simulator) -> None:
    payload = {"branch": "main", "commit_message": "m", "actions": [{"action": "delete", "file_path": "README.md"}]}  # fmt: skip

    r = call(gitlab_sim, "POST", f"{P}/commits", json=payload, token="viewer-token")

    assert (r.status_code, r.json()) == (403, {"message": "403 Forbidden"})


# -- the push ------------------------------------------------------------------------------


def test_a_commit_sends_a_push_naming_the_files_it_added_modified_and_removed(
    gitlab_api: gitlab.Gitlab, gitlab_sim: Simulator
) -> None:
    hook = gitlab_sim.add_hook(NOWHERE, project="acme/api")
    before = gitlab_sim.branch_head("acme/api")

    made = commit(
        gitlab_api,
        [
            {"action": "create", "file_path": "rules/20-b.yaml", "content": "b"},
            {"action": "update", "file_path": "README.md", "content": "Bye\n"},
            {"action": "delete", "file_path": "rules/10-a.yaml"},
        ],
    )

    [push] = pushes(gitlab_sim, hook)
    assert (push["before"], push["after"], push["checkout_sha"], push["ref"]) == (
        before,
        made.id,
        made.id,
        "refs/heads/main",
    )
    [listed] = push["commits"]
    assert (listed["added"], listed["modified"], listed["removed"]) == (
        ["rules/20-b.yaml"],
        ["README.md"],
        ["rules/10-a.yaml"],
    )


def test_the_push_has_the_keys_of_gitlabs_documented_push_and_its_builders_extras(
    gitlab_api: gitlab.Gitlab, gitlab_sim: Simulator
) -> None:
    hook = gitlab_sim.add_hook(NOWHERE, project="acme/api")
    documented = shape(json.loads((FIXTURES / "push.json").read_text()))
    commit(gitlab_api, [{"action": "update", "file_path": "README.md", "content": "x"}])

    [push] = pushes(gitlab_sim, hook)

    # Gitlab::DataBuilder::Push sends these too; the docs' example leaves them out.
    assert (push["message"], push["push_options"], "ci_config_path" in push["project"]) == (
        None,
        {},
        True,
    )
    sent = shape({k: v for k, v in push.items() if k not in ("message", "push_options")})
    del sent["project"]["ci_config_path"]
    assert sent == documented


def test_a_push_reaches_only_hooks_subscribed_to_push_events(
    gitlab_api: gitlab.Gitlab, gitlab_sim: Simulator
) -> None:
    silent = gitlab_sim.add_hook(NOWHERE, project="acme/api", push_events=False)

    commit(gitlab_api, [{"action": "update", "file_path": "README.md", "content": "x"}])

    assert pushes(gitlab_sim, silent) == []


def test_a_push_reaches_the_groups_hooks(gitlab_api: gitlab.Gitlab, gitlab_sim: Simulator) -> None:
    hook = gitlab_sim.add_hook(NOWHERE, group="acme")

    commit(gitlab_api, [{"action": "update", "file_path": "README.md", "content": "x"}])

    assert [p["project"]["path_with_namespace"] for p in pushes(gitlab_sim, hook)] == ["acme/api"]


def test_a_seed_commit_sends_a_push_too(gitlab_sim: Simulator) -> None:
    hook = gitlab_sim.add_hook(NOWHERE, project="acme/api")

    sha = gitlab_sim.seed_repository("acme/api", {"rules/10-a.yaml": "broken: ["}, user="alice")

    [push] = pushes(gitlab_sim, hook)
    assert (push["after"], push["user_username"]) == (sha, "alice")


def test_a_force_push_to_an_older_commit_sends_a_push_without_commits(
    gitlab_api: gitlab.Gitlab, gitlab_sim: Simulator
) -> None:
    old = gitlab_sim.branch_head("acme/api")
    new = gitlab_sim.seed_repository("acme/api", {"README.md": "Newer\n"})
    hook = gitlab_sim.add_hook(NOWHERE, project="acme/api")

    gitlab_sim.force_push("acme/api", "main", old)

    [push] = pushes(gitlab_sim, hook)
    assert (push["before"], push["after"], push["commits"], push["total_commits_count"]) == (
        new,
        old,
        [],
        0,
    )
    assert project(gitlab_api).files.raw("README.md", ref="main") == b"Hello\n"


def test_a_delivery_is_recorded_as_a_push_hook(
    gitlab_api: gitlab.Gitlab, gitlab_sim: Simulator
) -> None:
    hook = gitlab_sim.add_hook(NOWHERE, project="acme/api")
    commit(gitlab_api, [{"action": "update", "file_path": "README.md", "content": "x"}])
    assert gitlab_sim.wait_webhooks_idle()

    sent: list[SentDelivery] = [d for d in gitlab_sim.webhooks.sent if d.hook_id == hook]

    assert [d.headers.get("X-Gitlab-Event") for d in sent] == ["Push Hook"]


# -- reading commits -----------------------------------------------------------------------


def test_commits_are_listed_newest_first_without_totals(
    gitlab_api: gitlab.Gitlab, gitlab_sim: Simulator
) -> None:
    gitlab_sim.seed_repository("acme/api", {"README.md": "2"}, message="Second")
    r = call(gitlab_sim, "GET", f"{P}/commits")

    assert [c["title"] for c in r.json()] == ["Second", "Add files"]
    assert "X-Total" not in r.headers and "X-Total-Pages" not in r.headers


def test_commits_are_filtered_by_the_path_they_change(
    gitlab_api: gitlab.Gitlab, gitlab_sim: Simulator
) -> None:
    gitlab_sim.seed_repository("acme/api", {"README.md": "2"}, message="Readme only")

    # `path` is python-gitlab's own keyword (the URL), so the filter goes as a query parameter.
    listed = project(gitlab_api).commits.list(query_parameters={"path": "rules"})

    assert [c.title for c in listed] == ["Add files"]


def test_commits_of_a_branch_are_listed_by_ref_name(
    gitlab_api: gitlab.Gitlab, gitlab_sim: Simulator
) -> None:
    gitlab_sim.seed_repository("acme/api", {"t": "t"}, "topic", message="On topic")

    listed = project(gitlab_api).commits.list(ref_name="topic")

    assert [c.title for c in listed] == ["On topic", "Add files"]


def test_a_commit_is_read_by_its_sha_or_a_branch_name(
    gitlab_api: gitlab.Gitlab, gitlab_sim: Simulator
) -> None:
    head = gitlab_sim.branch_head("acme/api")

    assert project(gitlab_api).commits.get("main").id == head
    assert project(gitlab_api).commits.get(head[:8]).id == head


def test_an_unknown_commit_is_not_found(gitlab_sim: Simulator) -> None:
    r = call(gitlab_sim, "GET", f"{P}/commits/{'f' * 40}")

    assert (r.status_code, r.json()) == (404, {"message": "404 Commit Not Found"})


def test_a_comment_on_a_commit_is_listed_with_its_author(
    gitlab_api: gitlab.Gitlab, gitlab_sim: Simulator
) -> None:
    sha = gitlab_sim.branch_head("acme/api")
    project(gitlab_api).commits.get(sha, lazy=True).comments.create(
        {"note": "rules/10-a.yaml:1 bad"}
    )

    [listed] = project(gitlab_api).commits.get(sha, lazy=True).comments.list()

    assert (listed.note, listed.author["username"]) == ("rules/10-a.yaml:1 bad", "hooks-bot")
    assert gitlab_sim.commit_comments("acme/api", sha)[0]["note"] == "rules/10-a.yaml:1 bad"


def test_a_comment_without_a_note_is_refused(gitlab_sim: Simulator) -> None:
    r = call(gitlab_sim, "POST", f"{P}/commits/main/comments", json={})

    assert (r.status_code, r.json()) == (400, {"error": "note is missing"})


def test_a_comment_on_an_unknown_commit_is_not_found(gitlab_sim: Simulator) -> None:
    r = call(gitlab_sim, "POST", f"{P}/commits/{'e' * 40}/comments", json={"note": "x"})

    assert (r.status_code, r.json()) == (404, {"message": "404 Commit Not Found"})


def test_a_push_made_before_the_simulator_serves_is_sent_once_it_does() -> None:
    sim = Simulator({**TEAM_SEED, "repositories": [{"project": "acme/api", "files": {"a": "1"}}]})
    hook = sim.add_hook(NOWHERE, project="acme/api")
    sha = sim.seed_repository("acme/api", {"a": "2"})

    with SimulatorThread(sim):
        sent = pushes(sim, hook)

    assert [p["after"] for p in sent] == [sha]
