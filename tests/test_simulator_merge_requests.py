"""Merge requests in the simulator (doc/api/merge_requests.md, notes.md): opened, pushed to,
edited, closed and merged through python-gitlab, each step sending GitLab's Merge Request
Hook (and a merge its Push Hook); refused with GitLab's answers."""

from __future__ import annotations

import json
from typing import Any

import gitlab
import pytest
import requests

from hooks.testing.simulator import Simulator
from tests.conftest import FIXTURES
from tests.sim_seed import TEAM_SEED

NOWHERE = "http://127.0.0.1:9/unreachable"
P = "/projects/acme%2Fapi/merge_requests"
ROLLOVER = "rules/20-rollover.yaml"


@pytest.fixture
def gitlab_seed() -> dict[str, Any]:
    """The team seed; acme/api with rules on main and a branch `later` changing one file."""
    viewer = {"username": "viewer", "token": "viewer-token", "read_only": True}
    main = {ROLLOVER: "days: 1\nlabel: x\n", "rules/10-triage.yaml": "t: 1\n"}
    return {
        **TEAM_SEED,
        "users": [*TEAM_SEED["users"], viewer],
        "repositories": [
            {"project": "acme/api", "files": main},
            {"project": "acme/api", "branch": "later", "files": {**main, ROLLOVER: "days: 3\nlabel: x\n"}},
        ],
    }  # fmt: skip


def call(sim: Simulator, method: str, path: str, **kw: Any) -> requests.Response:
    headers = {"PRIVATE-TOKEN": kw.pop("token", "sim-token")}
    return requests.request(method, f"{sim.url}/api/v4{path}", headers=headers, timeout=5, **kw)


def project(gl: gitlab.Gitlab) -> Any:
    return gl.projects.get("acme/api", lazy=True)


def open_mr(gl: gitlab.Gitlab, source: str = "later", title: str = "Roll over later") -> Any:
    return project(gl).mergerequests.create(
        {"source_branch": source, "target_branch": "main", "title": title}
    )


def mr_hooks(sim: Simulator, hook: int) -> list[dict[str, Any]]:
    assert sim.wait_webhooks_idle()
    return [
        d.body for d in sim.webhooks.sent if d.hook_id == hook and d.event == "Merge Request Hook"
    ]


def listen(sim: Simulator) -> int:
    return sim.add_hook(NOWHERE, project="acme/api", merge_requests_events=True)


# -- opening -------------------------------------------------------------------------------


def test_python_gitlab_opens_a_merge_request_on_the_source_branchs_head(
    gitlab_api: gitlab.Gitlab, gitlab_sim: Simulator
) -> None:
    mr = open_mr(gitlab_api)

    assert (mr.iid, mr.state, mr.sha, mr.detailed_merge_status, mr.changes_count) == (
        1,
        "opened",
        gitlab_sim.branch_head("acme/api", "later"),
        "mergeable",
        "1",
    )
    assert mr.web_url.endswith("/acme/api/-/merge_requests/1")


def test_opening_sends_an_open_hook_naming_the_head_commit(
    gitlab_api: gitlab.Gitlab, gitlab_sim: Simulator
) -> None:
    hook = listen(gitlab_sim)

    open_mr(gitlab_api)

    [sent] = mr_hooks(gitlab_sim, hook)
    attrs = sent["object_attributes"]
    assert (attrs["action"], attrs["iid"], attrs["source_branch"], attrs["target_branch"]) == (
        "open",
        1,
        "later",
        "main",
    )
    assert attrs["last_commit"]["id"] == gitlab_sim.branch_head("acme/api", "later")
    assert "oldrev" not in attrs


def test_the_merge_request_hook_has_the_keys_of_gitlabs_documented_example(
    gitlab_api: gitlab.Gitlab, gitlab_sim: Simulator
) -> None:
    hook = listen(gitlab_sim)
    documented = json.loads((FIXTURES / "merge_request_open.json").read_text())

    open_mr(gitlab_api)

    [sent] = mr_hooks(gitlab_sim, hook)
    assert set(sent) == set(documented)
    assert set(sent["object_attributes"]) == set(documented["object_attributes"])
    assert set(sent["object_attributes"]["last_commit"]) == set(
        documented["object_attributes"]["last_commit"]
    )
    assert set(sent["object_attributes"]["source"]) == set(
        documented["object_attributes"]["source"]
    )


def test_hooks_without_merge_request_events_get_none(
    gitlab_api: gitlab.Gitlab, gitlab_sim: Simulator
) -> None:
    hook = gitlab_sim.add_hook(NOWHERE, project="acme/api")

    open_mr(gitlab_api)

    assert mr_hooks(gitlab_sim, hook) == []


OPEN_REFUSALS = [
    # (what, body, status, answer) - lib/api/merge_requests.rb handle_merge_request_errors!
    ("same branch", {"source_branch": "main", "target_branch": "main", "title": "t"}, 422,
     {"message": ["You can't use same project/branch for source and target"]}),
    ("nothing given", {}, 400,
     {"error": "source_branch is missing, target_branch is missing, title is missing"}),
]  # fmt: skip


@pytest.mark.parametrize(
    ("payload", "status", "answer"), [pytest.param(*r[1:], id=r[0]) for r in OPEN_REFUSALS]
)
def test_a_merge_request_gitlab_refuses_answers_why(
    gitlab_sim: Simulator, payload: dict[str, Any], status: int, answer: dict[str, Any]
) -> None:
    r = call(gitlab_sim, "POST", P, json=payload)

    assert (r.status_code, r.json()) == (status, answer)


def test_a_second_open_merge_request_for_the_same_branches_is_a_conflict(
    gitlab_api: gitlab.Gitlab, gitlab_sim: Simulator
) -> None:
    open_mr(gitlab_api)

    r = call(gitlab_sim, "POST", P, json={"source_branch": "later", "target_branch": "main", "title": "again"})  # fmt: skip

    assert (r.status_code, r.json()) == (
        409,
        {"message": ["Another open merge request already exists for this source branch: !1"]},
    )


def test_a_read_only_token_cannot_open_a_merge_request(gitlab_sim: Simulator) -> None:
    body = {"source_branch": "later", "target_branch": "main", "title": "t"}

    r = call(gitlab_sim, "POST", P, json=body, token="viewer-token")

    assert (r.status_code, r.json()) == (403, {"message": "403 Forbidden"})


def test_an_unknown_merge_request_is_not_found(gitlab_sim: Simulator) -> None:
    r = call(gitlab_sim, "GET", f"{P}/99")

    assert (r.status_code, r.json()) == (404, {"message": "404 Not found"})


# -- pushes, changes -----------------------------------------------------------------------


def test_a_push_to_the_source_branch_sends_an_update_with_the_old_head(
    gitlab_api: gitlab.Gitlab, gitlab_sim: Simulator
) -> None:
    mr = open_mr(gitlab_api)
    hook = listen(gitlab_sim)

    new = gitlab_sim.seed_repository("acme/api", {ROLLOVER: "days: 5\n"}, "later")

    [sent] = mr_hooks(gitlab_sim, hook)
    attrs = sent["object_attributes"]
    assert (attrs["action"], attrs["oldrev"], attrs["last_commit"]["id"]) == ("update", mr.sha, new)
    assert project(gitlab_api).mergerequests.get(1).sha == new


def test_a_push_to_another_branch_sends_no_merge_request_hook(
    gitlab_api: gitlab.Gitlab, gitlab_sim: Simulator
) -> None:
    open_mr(gitlab_api)
    hook = listen(gitlab_sim)

    gitlab_sim.seed_repository("acme/api", {"other": "x"}, "elsewhere")

    assert mr_hooks(gitlab_sim, hook) == []


def test_the_changes_are_the_files_the_source_branch_changed(gitlab_api: gitlab.Gitlab) -> None:
    changes = open_mr(gitlab_api).changes()["changes"]

    assert [(c["new_path"], c["diff"]) for c in changes] == [
        (ROLLOVER, "@@ -1,2 +1,2 @@\n-days: 1\n+days: 3\n label: x\n")
    ]


def test_a_merge_requests_commits_are_those_of_its_source_branch(
    gitlab_api: gitlab.Gitlab, gitlab_sim: Simulator
) -> None:
    mr = open_mr(gitlab_api)
    second = gitlab_sim.seed_repository("acme/api", {ROLLOVER: "days: 4\n"}, "later", message="4")

    listed = [c.id for c in mr.commits()]

    assert listed == [second, mr.sha]


def test_the_diffs_are_listed_in_pages(gitlab_api: gitlab.Gitlab, gitlab_sim: Simulator) -> None:
    open_mr(gitlab_api)

    r = call(gitlab_sim, "GET", f"{P}/1/diffs?per_page=1")

    assert ([d["new_path"] for d in r.json()], r.headers["X-Total"]) == ([ROLLOVER], "1")


def test_merge_requests_are_listed_by_state_and_branches(gitlab_api: gitlab.Gitlab) -> None:
    first = open_mr(gitlab_api)
    first.state_event = "close"
    first.save()
    open_mr(gitlab_api, title="Second try")

    opened = project(gitlab_api).mergerequests.list(state="opened", source_branch="later")
    closed = project(gitlab_api).mergerequests.list(state="closed", target_branch="main")

    assert ([m.title for m in opened], [m.title for m in closed]) == (
        ["Second try"],
        ["Roll over later"],
    )


def test_an_unknown_state_filter_is_refused(gitlab_sim: Simulator) -> None:
    r = call(gitlab_sim, "GET", f"{P}?state=open")

    assert (r.status_code, r.json()) == (400, {"error": "state does not have a valid value"})


def test_a_status_on_the_head_commit_is_the_merge_requests_head_pipeline(
    gitlab_api: gitlab.Gitlab,
) -> None:
    mr = open_mr(gitlab_api)
    commit = project(gitlab_api).commits.get(mr.sha, lazy=True)
    commit.statuses.create({"state": "failed", "name": "hooks/rules", "ref": "later"})

    pipeline = project(gitlab_api).mergerequests.get(1).head_pipeline

    assert (pipeline["sha"], pipeline["ref"], pipeline["status"]) == (mr.sha, "later", "failed")


def test_a_test_delivery_sends_the_newest_merge_request_as_opened(
    gitlab_api: gitlab.Gitlab, gitlab_sim: Simulator
) -> None:
    open_mr(gitlab_api)
    hook = listen(gitlab_sim)

    r = call(gitlab_sim, "POST", f"/projects/acme%2Fapi/hooks/{hook}/test/merge_requests_events")

    [sent] = mr_hooks(gitlab_sim, hook)
    assert (
        r.status_code,
        sent["object_attributes"]["action"],
        sent["object_attributes"]["iid"],
    ) == (
        422,  # the receiver is unreachable: GitLab answers why the test failed
        "open",
        1,
    )


# -- edits ---------------------------------------------------------------------------------


def test_an_edit_sends_an_update_with_what_changed(
    gitlab_api: gitlab.Gitlab, gitlab_sim: Simulator
) -> None:
    mr = open_mr(gitlab_api)
    hook = listen(gitlab_sim)

    mr.title = "Roll over three days later"
    mr.save()

    [sent] = mr_hooks(gitlab_sim, hook)
    assert (sent["object_attributes"]["action"], sent["changes"]["title"]) == (
        "update",
        {"previous": "Roll over later", "current": "Roll over three days later"},
    )
    assert "oldrev" not in sent["object_attributes"]


def test_closing_and_reopening_send_close_and_reopen(
    gitlab_api: gitlab.Gitlab, gitlab_sim: Simulator
) -> None:
    mr = open_mr(gitlab_api)
    hook = listen(gitlab_sim)

    mr.state_event = "close"
    mr.save()
    mr.state_event = "reopen"
    mr.save()

    sent = mr_hooks(gitlab_sim, hook)
    assert [(h["object_attributes"]["action"], h["object_attributes"]["state"]) for h in sent] == [
        ("close", "closed"),
        ("reopen", "opened"),
    ]


def test_a_close_hook_records_the_state_change(
    gitlab_api: gitlab.Gitlab, gitlab_sim: Simulator
) -> None:
    mr = open_mr(gitlab_api)
    hook = listen(gitlab_sim)

    mr.state_event = "close"
    mr.save()

    [sent] = mr_hooks(gitlab_sim, hook)
    assert sent["changes"]["state_id"] == {"previous": 1, "current": 2}


def test_a_merge_hook_records_the_state_change_from_locked_as_gitlab(
    gitlab_api: gitlab.Gitlab, gitlab_sim: Simulator
) -> None:
    mr = open_mr(gitlab_api)
    hook = listen(gitlab_sim)

    mr.merge()

    [sent] = mr_hooks(gitlab_sim, hook)
    assert (sent["object_attributes"]["state"], sent["changes"]["state_id"]) == (
        "merged",
        {"previous": 4, "current": 3},
    )


# -- merging -------------------------------------------------------------------------------


def test_merging_commits_the_source_changes_to_the_target_branch(
    gitlab_api: gitlab.Gitlab, gitlab_sim: Simulator
) -> None:
    mr = open_mr(gitlab_api)

    mr.merge()

    merged = project(gitlab_api).mergerequests.get(1)
    assert (merged.state, merged.merge_commit_sha) == ("merged", gitlab_sim.branch_head("acme/api"))
    assert gitlab_sim.file("acme/api", ROLLOVER) == "days: 3\nlabel: x\n"


def test_merging_sends_the_targets_push_and_a_merge_hook(
    gitlab_api: gitlab.Gitlab, gitlab_sim: Simulator
) -> None:
    mr = open_mr(gitlab_api)
    hook = listen(gitlab_sim)

    mr.merge()

    assert gitlab_sim.wait_webhooks_idle()
    sent = [(d.event, d.body) for d in gitlab_sim.webhooks.sent if d.hook_id == hook]
    assert [
        (event, body.get("ref") or body["object_attributes"]["action"]) for event, body in sent
    ] == [
        ("Push Hook", "refs/heads/main"),
        ("Merge Request Hook", "merge"),
    ]
    push = sent[0][1]
    assert push["after"] == gitlab_sim.branch_head("acme/api")
    assert [c["modified"] for c in push["commits"]] == [[ROLLOVER], [ROLLOVER]]


def test_a_merge_of_many_commits_pushes_the_newest_20_and_counts_them_all(
    gitlab_api: gitlab.Gitlab, gitlab_sim: Simulator
) -> None:
    mr = open_mr(gitlab_api)
    made = [
        gitlab_sim.seed_repository("acme/api", {f"notes/{i}.md": str(i)}, "later")
        for i in range(24)
    ]
    hook = listen(gitlab_sim)

    mr.merge()

    assert gitlab_sim.wait_webhooks_idle()
    [push] = [
        d.body for d in gitlab_sim.webhooks.sent if d.hook_id == hook and d.event == "Push Hook"
    ]
    listed = [c["id"] for c in push["commits"]]
    assert (push["total_commits_count"], len(listed)) == (26, 20)  # 25 on the branch + the merge
    assert listed[:-1] == made[-19:] and listed[-1] == push["after"]


def test_a_squash_merge_pushes_one_commit_of_the_changes_and_the_merge(
    gitlab_api: gitlab.Gitlab, gitlab_sim: Simulator
) -> None:
    mr = open_mr(gitlab_api)
    gitlab_sim.seed_repository("acme/api", {ROLLOVER: "days: 4\nlabel: x\n"}, "later")
    hook = listen(gitlab_sim)

    mr.merge(squash=True)

    assert gitlab_sim.wait_webhooks_idle()
    [push] = [
        d.body for d in gitlab_sim.webhooks.sent if d.hook_id == hook and d.event == "Push Hook"
    ]
    merged = project(gitlab_api).mergerequests.get(1)
    assert [c["id"] for c in push["commits"]] == [merged.squash_commit_sha, merged.merge_commit_sha]
    assert push["commits"][0]["title"] == "Roll over later"
    assert gitlab_sim.file("acme/api", ROLLOVER) == "days: 4\nlabel: x\n"


def test_merging_removes_the_source_branch_when_asked(
    gitlab_api: gitlab.Gitlab, gitlab_sim: Simulator
) -> None:
    open_mr(gitlab_api).merge(should_remove_source_branch=True)

    assert [b.name for b in project(gitlab_api).branches.list()] == ["main"]


def test_merging_a_closed_merge_request_is_not_allowed(
    gitlab_api: gitlab.Gitlab, gitlab_sim: Simulator
) -> None:
    mr = open_mr(gitlab_api)
    mr.state_event = "close"
    mr.save()

    r = call(gitlab_sim, "PUT", f"{P}/1/merge")

    assert (r.status_code, r.json()) == (405, {"message": "405 Method Not Allowed"})


def test_merging_a_draft_is_not_allowed(gitlab_api: gitlab.Gitlab, gitlab_sim: Simulator) -> None:
    open_mr(gitlab_api, title="Draft: roll over later")

    r = call(gitlab_sim, "PUT", f"{P}/1/merge")

    assert (r.status_code, r.json()) == (405, {"message": "405 Method Not Allowed"})


def test_merging_a_conflicting_merge_request_is_refused(
    gitlab_api: gitlab.Gitlab, gitlab_sim: Simulator
) -> None:
    open_mr(gitlab_api)
    gitlab_sim.seed_repository("acme/api", {ROLLOVER: "days: 2\n"})

    r = call(gitlab_sim, "PUT", f"{P}/1/merge")

    assert (r.status_code, r.json()) == (422, {"message": "Branch cannot be merged"})
    assert project(gitlab_api).mergerequests.get(1).has_conflicts is True


def test_merging_with_a_sha_that_is_not_the_head_is_a_conflict(
    gitlab_api: gitlab.Gitlab, gitlab_sim: Simulator
) -> None:
    open_mr(gitlab_api)
    head = gitlab_sim.branch_head("acme/api", "later")

    r = call(gitlab_sim, "PUT", f"{P}/1/merge", json={"sha": "0" * 40})

    assert (r.status_code, r.json()) == (
        409,
        {"message": f"SHA does not match HEAD of source branch: {head}"},
    )


# -- notes ---------------------------------------------------------------------------------


def test_a_note_on_a_merge_request_is_edited_in_place(
    gitlab_api: gitlab.Gitlab, gitlab_sim: Simulator
) -> None:
    mr = open_mr(gitlab_api)
    note = mr.notes.create({"body": "<!-- hooks:preview -->\nNo change"})

    note.body = "<!-- hooks:preview -->\n2 changes"
    note.save()

    [listed] = mr.notes.list()
    assert (listed.id, listed.body, listed.noteable_type) == (
        note.id,
        "<!-- hooks:preview -->\n2 changes",
        "MergeRequest",
    )
    assert gitlab_sim.mr_notes("acme/api", 1)[0]["body"].endswith("2 changes")


def test_a_note_without_a_body_is_refused(gitlab_api: gitlab.Gitlab, gitlab_sim: Simulator) -> None:
    open_mr(gitlab_api)

    r = call(gitlab_sim, "POST", f"{P}/1/notes", json={"body": " "})

    assert (r.status_code, r.json()) == (400, {"error": "body is missing"})


def test_an_unknown_merge_request_note_is_not_found(
    gitlab_api: gitlab.Gitlab, gitlab_sim: Simulator
) -> None:
    open_mr(gitlab_api)

    r = call(gitlab_sim, "PUT", f"{P}/1/notes/99", json={"body": "x"})

    assert (r.status_code, r.json()) == (404, {"message": "404 Note Not Found"})
