"""The simulator's comments and emoji reactions send Note Hook and Emoji Hook as GitLab does.

Each payload is compared key by key with a real one from the fixtures (GitLab's docs and the Go
client's test data), so a field GitLab sends and the simulator does not is caught.
"""

from __future__ import annotations

import json
from typing import Any

import gitlab
import pytest
import requests

from hooks.testing.simulator import Simulator, SimulatorThread
from hooks.testing.waiting import eventually_sync
from tests.conftest import FIXTURES
from tests.sim_seed import TEAM_SEED

UNREACHABLE = "http://127.0.0.1:9/hook"


def real(name: str) -> dict[str, Any]:
    return dict(json.loads((FIXTURES / name).read_text()))


def sent(sim: Simulator, event: str) -> list[dict[str, Any]]:
    """The bodies of the deliveries of `event` the simulator made, once they were made."""

    def made() -> list[dict[str, Any]]:
        found = [d.body for d in sim.webhooks.sent if d.event == event]
        assert found, f"no {event} sent"
        return found

    return eventually_sync(made, within_s=5, ignoring=(AssertionError,))


@pytest.fixture
def hooked(gitlab_sim: Simulator) -> Simulator:
    gitlab_sim.add_hook(
        UNREACHABLE,
        "t",
        group="demo",
        note_events=True,
        confidential_note_events=True,
        emoji_events=True,
    )
    return gitlab_sim


def alice(sim: Simulator) -> gitlab.Gitlab:
    return gitlab.Gitlab(sim.url, private_token=sim.token_for("alice"), timeout=5)


def issue(sim: Simulator, iid: int = 1) -> Any:
    return alice(sim).projects.get("demo/product", lazy=True).issues.get(iid)


def test_a_comment_sends_a_note_hook_shaped_like_gitlabs(hooked: Simulator) -> None:
    note = issue(hooked).notes.create({"body": "Looks good"})

    [body] = sent(hooked, "Note Hook")
    docs = real("clientgo_note_issue.json")
    assert set(docs) - set(body) == set()
    assert set(docs["object_attributes"]) - set(body["object_attributes"]) == set()
    assert set(docs["issue"]) - set(body["issue"]) <= {
        "position",
        "branch_name",
        "human_time_estimate",
    }
    assert body["event_type"] == "note"
    assert body["object_attributes"]["action"] == "create"
    assert body["object_attributes"]["id"] == note.id
    assert body["object_attributes"]["note"] == "Looks good"
    assert body["user"]["username"] == "alice"
    assert body["issue"]["iid"] == 1


def test_an_internal_comment_goes_to_confidential_note_hooks(hooked: Simulator) -> None:
    issue(hooked).notes.create({"body": "Between us", "internal": True})

    [body] = sent(hooked, "Confidential Note Hook")
    assert body["event_type"] == "confidential_note"
    assert [d for d in hooked.webhooks.sent if d.event == "Note Hook"] == []


def test_a_hook_without_note_events_gets_no_comment(gitlab_sim: Simulator) -> None:
    gitlab_sim.add_hook(UNREACHABLE, "t", group="demo")  # issue events only
    issue(gitlab_sim).notes.create({"body": "/label ~blocked"})  # a change: an issue event
    issue(gitlab_sim).notes.create({"body": "A plain comment"})

    sent(gitlab_sim, "Issue Hook")
    assert gitlab_sim.wait_webhooks_idle()
    assert {d.event for d in gitlab_sim.webhooks.sent} == {"Issue Hook"}


def test_editing_a_comments_text_sends_an_update(hooked: Simulator) -> None:
    note = issue(hooked).notes.create({"body": "Draft"})
    note.body = "Final"
    note.save()

    def two() -> list[dict[str, Any]]:
        found = sent(hooked, "Note Hook")
        assert len(found) == 2
        return found

    first, second = eventually_sync(two, within_s=5, ignoring=(AssertionError,))
    assert (first["object_attributes"]["action"], second["object_attributes"]["action"]) == (
        "create",
        "update",
    )
    assert second["object_attributes"]["note"] == "Final"


def test_an_emoji_on_an_issue_sends_an_emoji_hook_shaped_like_gitlabs(hooked: Simulator) -> None:
    award = issue(hooked).awardemojis.create({"name": "thumbsup"})

    [body] = sent(hooked, "Emoji Hook")
    real_one = real("clientgo_emoji_issue.json")
    assert set(real_one) - set(body) == set()
    assert set(real_one["object_attributes"]) - set(body["object_attributes"]) == set()
    assert body["event_type"] == body["object_attributes"]["action"] == "award"
    assert body["object_attributes"]["name"] == "thumbsup"
    assert body["object_attributes"]["id"] == award.id
    assert body["object_attributes"]["awardable_type"] == "Issue"
    assert body["issue"]["iid"] == 1


def test_an_emoji_on_a_comment_carries_the_comment_and_its_issue(hooked: Simulator) -> None:
    note = issue(hooked).notes.create({"body": "Ship it?"})
    note.awardemojis.create({"name": "rocket"})

    [body] = sent(hooked, "Emoji Hook")
    real_one = real("clientgo_emoji_note_issue.json")
    assert set(real_one) - set(body) == set()
    assert set(real_one["note"]) - set(body["note"]) == set()
    assert body["object_attributes"]["awardable_type"] == "Note"
    assert body["note"]["note"] == "Ship it?"
    assert body["issue"]["iid"] == 1


def test_revoking_an_emoji_sends_a_revoke(hooked: Simulator) -> None:
    award = issue(hooked).awardemojis.create({"name": "thumbsup"})
    award.delete()

    def two() -> list[dict[str, Any]]:
        found = sent(hooked, "Emoji Hook")
        assert len(found) == 2
        return found

    _award, revoke = eventually_sync(two, within_s=5, ignoring=(AssertionError,))
    assert revoke["event_type"] == revoke["object_attributes"]["action"] == "revoke"


def test_the_same_emoji_twice_is_refused_as_gitlab_does(gitlab_sim: Simulator) -> None:
    url = f"{gitlab_sim.url}/api/v4/projects/demo%2Fproduct/issues/1/award_emoji"
    headers = {"PRIVATE-TOKEN": gitlab_sim.token_for("alice")}
    first = requests.post(url, json={"name": "thumbsup"}, headers=headers, timeout=5)
    again = requests.post(url, json={"name": "thumbsup"}, headers=headers, timeout=5)
    assert first.status_code == 201
    assert (again.status_code, again.json()) == (
        404,
        {"message": "404 Award Emoji Name has already been taken Not Found"},
    )


def test_only_the_awarder_may_delete_an_emoji(gitlab_sim: Simulator) -> None:
    award = issue(gitlab_sim).awardemojis.create({"name": "thumbsup"})
    url = f"{gitlab_sim.url}/api/v4/projects/demo%2Fproduct/issues/1/award_emoji/{award.id}"
    answer = requests.delete(url, headers={"PRIVATE-TOKEN": "bob-token"}, timeout=5)
    assert (answer.status_code, answer.json()) == (401, {"message": "401 Unauthorized"})


def test_an_emoji_given_as_plus_one_is_stored_as_thumbsup(gitlab_sim: Simulator) -> None:
    award = issue(gitlab_sim).awardemojis.create({"name": "+1"})
    assert award.name == "thumbsup"


def test_a_comment_on_a_merge_request_sends_a_note_hook_with_the_merge_request() -> None:
    files = {"README.md": "hello\n"}
    seed = {
        **TEAM_SEED,
        "repositories": [
            {"project": "acme/api", "files": files},
            {"project": "acme/api", "branch": "topic", "files": {"README.md": "hi\n"}},
        ],
    }
    with SimulatorThread(Simulator(seed)) as sim:
        sim.add_hook(UNREACHABLE, "t", group="acme", note_events=True)
        gl = gitlab.Gitlab(sim.url, private_token="sim-token", timeout=5)
        mr = gl.projects.get("acme/api", lazy=True).mergerequests.create(
            {"source_branch": "topic", "target_branch": "main", "title": "Say hi"}
        )
        mr.notes.create({"body": "Looks good"})

        [body] = sent(sim, "Note Hook")
        real_one = real("clientgo_note_merge_request.json")
        assert set(real_one) - set(body) == set()
        assert body["object_attributes"]["noteable_type"] == "MergeRequest"
        assert body["merge_request"]["iid"] == mr.iid
        assert "issue" not in body
