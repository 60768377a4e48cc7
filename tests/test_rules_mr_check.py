"""The merge request check by the service: a merge request into the rules ref gets its rules
validated, their examples run and a preview against the live rules, as one note edited in
place on each push, and the commit status `hooks/rules` on its head; once per head commit."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestServer

from hooks.rulesource.report import MR_MARKER, STATUS_NAME
from hooks.testing.sim_faults import Fault
from hooks.testing.simulator import Simulator
from tests.e2e import as_user, settle, store_of
from tests.preview_history import PROPOSED_SENTENCE, ROLLOVER_SENTENCE
from tests.rules_repo import (
    RULES_PROJECT,
    commit_rule_pack,
    gitlab_seed,
    pack_file,
    post_admin,
    serve_rules_project,
    service,
)
from tests.test_preview import rolling_items_of

ROLLOVER = "rules/20-rollover.yaml"


__all__ = ["gitlab_seed", "service"]  # the fixtures, used below


def proposed_rollover() -> str:
    return pack_file("20-rollover.yaml").replace(ROLLOVER_SENTENCE, PROPOSED_SENTENCE)


def open_merge_request(
    sim: Simulator, files: dict[str, str | bytes | None], branch: str = "change-rollover"
) -> tuple[int, str]:
    """alice commits `files` to a new branch and opens a merge request into main."""
    head = sim.seed_repository(RULES_PROJECT, files, branch, user="alice", message="Propose")
    project = as_user(sim, "alice").projects.get(RULES_PROJECT, lazy=True)
    mr = project.mergerequests.create(
        {"source_branch": branch, "target_branch": "main", "title": "Change the roll-over"}
    )
    return int(mr.iid), head


def check_notes(sim: Simulator, iid: int) -> list[dict[str, Any]]:
    return [n for n in sim.mr_notes(RULES_PROJECT, iid) if MR_MARKER in n["body"]]


def check_statuses(sim: Simulator, sha: str) -> list[tuple[str, str]]:
    return [
        (s["status"], s["description"] or "")
        for s in sim.commit_statuses(RULES_PROJECT, sha)
        if s["name"] == STATUS_NAME
    ]


async def test_a_changed_roll_over_gets_a_note_naming_the_items_whose_roll_over_would_change(
    gitlab_sim: Simulator, service: TestServer
) -> None:
    iid, head = open_merge_request(gitlab_sim, {ROLLOVER: proposed_rollover()})
    await settle(gitlab_sim, store_of(service))

    [note] = check_notes(gitlab_sim, iid)
    items = rolling_items_of(gitlab_sim, "Sprint 41")
    assert items and all(f"[{item}]" in note["body"] for item in items)
    assert "roll-over-first-time" in note["body"] and PROPOSED_SENTENCE in note["body"]
    assert note["author"]["username"] == "hooks-bot"
    assert check_statuses(gitlab_sim, head)[-1][0] == "success"


async def test_a_push_to_the_merge_request_edits_the_same_note_and_checks_the_new_head(
    gitlab_sim: Simulator, service: TestServer
) -> None:
    iid, first = open_merge_request(gitlab_sim, {ROLLOVER: proposed_rollover()})
    await settle(gitlab_sim, store_of(service))
    [before] = check_notes(gitlab_sim, iid)

    again = proposed_rollover().replace(PROPOSED_SENTENCE, "it is carried over")
    second = gitlab_sim.seed_repository(
        RULES_PROJECT, {ROLLOVER: again}, "change-rollover", user="alice"
    )
    await settle(gitlab_sim, store_of(service))

    [after] = check_notes(gitlab_sim, iid)
    assert after["id"] == before["id"]
    assert second[:12] in after["body"] and first[:12] not in after["body"]
    assert "it is carried over" in after["body"]
    assert check_statuses(gitlab_sim, second)[-1][0] == "success"


async def test_the_same_head_commit_is_checked_once(
    gitlab_sim: Simulator, service: TestServer
) -> None:
    iid, head = open_merge_request(gitlab_sim, {ROLLOVER: proposed_rollover()})
    await settle(gitlab_sim, store_of(service))
    [delivery] = await store_of(service).list_deliveries(kind="merge_request")
    statuses = check_statuses(gitlab_sim, head)

    replayed = await post_admin(service, f"/admin/deliveries/{delivery.id}/replay")
    await settle(gitlab_sim, store_of(service))

    assert replayed.status == 202
    assert check_statuses(gitlab_sim, head) == statuses  # running, then success: not again
    trail = await store_of(service).audit_for(delivery_id=delivery.id)
    assert [t["outcome"] for t in trail if t["kind"] == "rules"] == ["done", "already"]
    assert len(check_notes(gitlab_sim, iid)) == 1


async def test_rules_that_do_not_validate_fail_the_check_naming_file_and_line(
    gitlab_sim: Simulator, service: TestServer
) -> None:
    broken = pack_file("20-rollover.yaml").replace("  do:\n", "  doo:\n", 1)
    iid, head = open_merge_request(gitlab_sim, {ROLLOVER: broken})
    await settle(gitlab_sim, store_of(service))

    [note] = check_notes(gitlab_sim, iid)
    state, description = check_statuses(gitlab_sim, head)[-1]
    assert state == "failed" and "do not validate" in description
    assert "**Validation failed**" in note["body"]
    assert f"{ROLLOVER}:" in note["body"] and "unknown key 'doo'" in note["body"]


async def test_a_failing_example_fails_the_check_and_is_named(
    gitlab_sim: Simulator, service: TestServer
) -> None:
    wrong = pack_file("20-rollover.yaml").replace(
        """comment: ['from %"Sprint 42" to %"Sprint 43"']""",
        """comment: ['from %"Sprint 42" to %"Sprint 44"']""",
        1,
    )
    iid, head = open_merge_request(gitlab_sim, {ROLLOVER: wrong})
    await settle(gitlab_sim, store_of(service))

    [note] = check_notes(gitlab_sim, iid)
    state, description = check_statuses(gitlab_sim, head)[-1]
    assert state == "failed" and "examples fail" in description
    assert "`roll-over-first-time`: the sprint closes with an open item" in note["body"]


async def test_a_title_edit_without_new_commits_is_not_checked_again(
    gitlab_sim: Simulator, service: TestServer
) -> None:
    iid, head = open_merge_request(gitlab_sim, {ROLLOVER: proposed_rollover()})
    await settle(gitlab_sim, store_of(service))
    statuses = check_statuses(gitlab_sim, head)

    mr = as_user(gitlab_sim, "alice").projects.get(RULES_PROJECT, lazy=True).mergerequests.get(iid)
    mr.title = "Change the roll-over comment"
    mr.save()
    await settle(gitlab_sim, store_of(service))

    assert check_statuses(gitlab_sim, head) == statuses
    deliveries = await store_of(service).list_deliveries(kind="merge_request")
    trail = await store_of(service).audit_for(delivery_id=deliveries[0].id)
    assert trail[-1]["detail"]["reason"] == "updated without new commits"


async def test_a_merge_request_into_another_branch_gets_no_check(
    gitlab_sim: Simulator, service: TestServer
) -> None:
    gitlab_sim.seed_repository(RULES_PROJECT, {"README.md": "x"}, "release", user="alice")
    head = gitlab_sim.seed_repository(
        RULES_PROJECT, {ROLLOVER: proposed_rollover()}, "topic", user="alice", start_branch="main"
    )
    project = as_user(gitlab_sim, "alice").projects.get(RULES_PROJECT, lazy=True)
    mr = project.mergerequests.create(
        {"source_branch": "topic", "target_branch": "release", "title": "Elsewhere"}
    )
    await settle(gitlab_sim, store_of(service))

    assert check_notes(gitlab_sim, int(mr.iid)) == []
    assert check_statuses(gitlab_sim, head) == []


async def test_a_note_whose_answer_was_lost_is_found_on_the_retry_not_posted_twice(
    gitlab_sim: Simulator, tmp_path: Path
) -> None:
    commit_rule_pack(gitlab_sim, user="alice")
    server = await serve_rules_project(gitlab_sim, tmp_path, gitlab_timeout_s=0.5)
    # GitLab makes the note, then answers after the service stopped waiting.
    gitlab_sim.faults.add(
        Fault(user="hooks-bot", method="POST", path="*/merge_requests/*/notes", after_s=1.0)
    )
    try:
        iid, head = open_merge_request(gitlab_sim, {ROLLOVER: proposed_rollover()})
        await settle(gitlab_sim, store_of(server))
        [delivery] = await store_of(server).list_deliveries(kind="merge_request")
    finally:
        await server.close()

    assert len(check_notes(gitlab_sim, iid)) == 1
    assert check_statuses(gitlab_sim, head)[-1][0] == "success"
    assert delivery.attempts >= 2  # the first attempt lost the answer; the retry found the note
