"""Comments and reactions, end to end: team members comment and react on the simulator, which
sends Note Hook and Emoji Hook to `hooks serve` running the shipped rule pack; what the bot
then does is read back from the simulator, as a user would see it.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession
from aiohttp.test_utils import TestServer

from hooks.testing.sim_seed_demo import demo_seed
from hooks.testing.simulator import Simulator
from tests.conftest import SECRET, fixture_bytes
from tests.e2e import RULE_PACK, as_user, service_settings, settle, start_service, store_of

PRODUCT = "demo/product"
BOT = "hooks-bot"
# What the tests add to the shipped pack: a reaction rule, and a rule that would copy
# comments into another project's issue (which must be refused for private comments).
EXTRA_RULES = """
rules:
- name: thumbs-up-marks-liked
  on: {emoji: [award]}
  if: {emoji: {any: [thumbsup, "+1"]}}
  do:
    - add_labels: [liked]
- name: copy-comments-to-marketing
  on: {note: [create]}
  allow_confidential_leak: true  # a confidential issue's title may go; a comment's text never
  if: {comment: {matches: "(?i)^fyi"}}
  do:
    - comment: {body: "From {{ issue.web_url }}: {{ comment.note }}", target: "demo/marketing#1"}
"""


@pytest.fixture
def gitlab_seed() -> dict[str, Any]:
    """The demo team: alice a developer of the group, dave a guest of the product project,
    carol and bob no members; and a confidential issue, demo/product#90."""
    seed = demo_seed(date.today())
    seed["members"] = [
        {"group": "demo", "user": "alice", "access_level": "developer"},
        {"project": PRODUCT, "user": "dave", "access_level": "guest"},
    ]
    seed["issues"].append(
        {"project": PRODUCT, "title": "Pricing negotiation", "confidential": True, "iid": 90}
    )
    return seed


async def serve(sim: Simulator, tmp_path: Path, **overrides: Any) -> TestServer:
    """The service on the shipped pack and EXTRA_RULES, sent the group's comments."""
    rules = tmp_path / "rules"
    rules.mkdir()
    for source in RULE_PACK.glob("*.yaml"):
        (rules / source.name).write_text(source.read_text())
    (rules / "90-extra.yaml").write_text(EXTRA_RULES)
    (rules / "fixtures").symlink_to(RULE_PACK / "fixtures")
    server = await start_service(service_settings(sim, tmp_path, rules, **overrides))
    sim.add_hook(
        str(server.make_url("/webhook")),
        SECRET,
        group="demo",
        note_events=True,
        confidential_note_events=True,
        emoji_events=True,
    )
    # The bot's replies come back as Note Hooks (no recursion detection): the loop guard must
    # answer them.
    sim.webhooks.recursion_detection = False
    return server


@pytest.fixture
async def service(gitlab_sim: Simulator, tmp_path: Path) -> AsyncIterator[TestServer]:
    server = await serve(gitlab_sim, tmp_path)
    yield server
    await server.close()


def comment(sim: Simulator, user: str, text: str, iid: int = 1, **extra: Any) -> Any:
    project = as_user(sim, user).projects.get(PRODUCT, lazy=True)
    return project.issues.get(iid).notes.create({"body": text, **extra})


def bot_notes(sim: Simulator, iid: int = 1, project: str = PRODUCT) -> list[dict[str, Any]]:
    return [n for n in sim.notes(project, iid) if n["author"]["username"] == BOT]


async def trace_of(server: TestServer, note_id: int) -> list[dict[str, Any]]:
    """The audit lines of the delivery that carried one comment."""
    store = store_of(server)
    for delivery in await store.list_deliveries(kind="note", limit=200):
        if json.loads(delivery.body)["object_attributes"]["id"] == note_id:
            return await store.audit_for(delivery_id=delivery.id)
    raise AssertionError(f"no delivery carried note {note_id}")


def rule_lines(trace: list[dict[str, Any]], rule: str) -> list[dict[str, Any]]:
    return [line for line in trace if line["rule"] == rule]


async def test_a_developers_command_sets_at_risk_and_gets_a_reply(
    gitlab_sim: Simulator, service: TestServer
) -> None:
    comment(gitlab_sim, "alice", "@hooks-bot health at risk: waiting on legal")
    await settle(gitlab_sim, store_of(service))

    assert "health::at risk" in gitlab_sim.issue(PRODUCT, 1)["labels"]
    [reply] = bot_notes(gitlab_sim)
    assert reply["body"].startswith("@alice health is now **At Risk**: waiting on legal.")


async def test_an_authors_role_is_read_once_for_several_commands(
    gitlab_sim: Simulator, service: TestServer
) -> None:
    comment(gitlab_sim, "alice", "@hooks-bot health needs attention")
    await settle(gitlab_sim, store_of(service))
    comment(gitlab_sim, "alice", "@hooks-bot health at risk")
    await settle(gitlab_sim, store_of(service))

    assert "health::at risk" in gitlab_sim.issue(PRODUCT, 1)["labels"]
    reads = [r for r in gitlab_sim.recorded("GET", BOT) if "/members/all/" in r.path]
    assert len(reads) == 1


async def test_a_guests_command_is_refused_with_a_reply_saying_why(
    gitlab_sim: Simulator, service: TestServer
) -> None:
    before = gitlab_sim.issue(PRODUCT, 1)["labels"]
    note = comment(gitlab_sim, "dave", "@hooks-bot health at risk")
    await settle(gitlab_sim, store_of(service))

    assert gitlab_sim.issue(PRODUCT, 1)["labels"] == before
    [reply] = bot_notes(gitlab_sim)
    assert "only a developer or above in this project can change health" in reply["body"]
    assert "you are a guest. Nothing was changed." in reply["body"]
    [line] = rule_lines(await trace_of(service, note.id), "command-health-at-risk")
    assert line["detail"]["reason"] == "author_access: @dave is guest, not developer or above"


async def test_a_non_members_command_is_refused(gitlab_sim: Simulator, service: TestServer) -> None:
    comment(gitlab_sim, "carol", "@hooks-bot health on track")
    await settle(gitlab_sim, store_of(service))

    [reply] = bot_notes(gitlab_sim)
    assert "you are not a member. Nothing was changed." in reply["body"]


async def test_unknown_words_get_a_short_help_reply(
    gitlab_sim: Simulator, service: TestServer
) -> None:
    comment(gitlab_sim, "alice", "@hooks-bot please deploy")
    await settle(gitlab_sim, store_of(service))

    [reply] = bot_notes(gitlab_sim)
    assert "I did not understand `please deploy`" in reply["body"]
    assert "`@hooks-bot health on track|needs attention|at risk[: reason]`" in reply["body"]


async def test_a_mention_inside_a_sentence_is_no_command(
    gitlab_sim: Simulator, service: TestServer
) -> None:
    note = comment(gitlab_sim, "alice", "Thanks @hooks-bot, health at risk noted")
    await settle(gitlab_sim, store_of(service))

    assert bot_notes(gitlab_sim) == []
    [line] = rule_lines(await trace_of(service, note.id), "command-unknown")
    assert line["detail"]["reason"] == (
        "command: the comment has no line starting with a mention of the bot"
    )


async def test_a_one_megabyte_comment_ends_done_with_a_clear_trace(
    gitlab_sim: Simulator, service: TestServer
) -> None:
    text = ("lorem ipsum " * 90_000)[:1_000_000]
    note = comment(gitlab_sim, "alice", text)
    await settle(gitlab_sim, store_of(service), within_s=60)

    trace = await trace_of(service, note.id)
    assert bot_notes(gitlab_sim) == []
    [copy] = rule_lines(trace, "copy-comments-to-marketing")
    assert copy["outcome"] == "not_matched"
    assert copy["detail"]["reason"] == "comment: 1000000 characters, no match for '(?i)^fyi'"
    deliveries = await store_of(service).list_deliveries(kind="note")
    assert {d.status for d in deliveries} == {"done"}


async def test_a_one_megabyte_command_is_answered_with_its_length(
    gitlab_sim: Simulator, service: TestServer
) -> None:
    command = "health at risk: " + "x" * 1_000_000
    comment(gitlab_sim, "alice", f"@hooks-bot {command}")
    await settle(gitlab_sim, store_of(service), within_s=60)

    [reply] = bot_notes(gitlab_sim)
    assert f"I did not understand a command of {len(command)} characters" in reply["body"]
    assert "health::at risk" not in gitlab_sim.issue(PRODUCT, 1)["labels"]


async def test_a_command_in_a_confidential_issue_is_answered_in_that_issue(
    gitlab_sim: Simulator, service: TestServer
) -> None:
    comment(gitlab_sim, "alice", "@hooks-bot health needs attention: pricing not signed", iid=90)
    await settle(gitlab_sim, store_of(service))

    assert "health::needs attention" in gitlab_sim.issue(PRODUCT, 90)["labels"]
    [reply] = bot_notes(gitlab_sim, iid=90)
    assert "**Needs Attention**: pricing not signed." in reply["body"]
    assert bot_notes(gitlab_sim, iid=1) == []


async def test_a_confidential_issues_comment_is_never_copied_to_another_project(
    gitlab_sim: Simulator, service: TestServer
) -> None:
    note = comment(gitlab_sim, "alice", "FYI the discount is 40%", iid=90)
    await settle(gitlab_sim, store_of(service))

    assert bot_notes(gitlab_sim, iid=1, project="demo/marketing") == []
    [line] = rule_lines(await trace_of(service, note.id), "copy-comments-to-marketing")
    assert line["outcome"] == "error"
    assert "stays in its issue" in line["detail"]["error"]


async def test_an_internal_comment_is_never_copied_to_another_project(
    gitlab_sim: Simulator, service: TestServer
) -> None:
    comment(gitlab_sim, "alice", "FYI legal says no", internal=True)
    await settle(gitlab_sim, store_of(service))

    assert bot_notes(gitlab_sim, iid=1, project="demo/marketing") == []


async def test_a_public_comment_may_be_copied_to_another_project(
    gitlab_sim: Simulator, service: TestServer
) -> None:
    comment(gitlab_sim, "alice", "FYI the launch moved a week")
    await settle(gitlab_sim, store_of(service))

    [copy] = bot_notes(gitlab_sim, iid=1, project="demo/marketing")
    assert "FYI the launch moved a week" in copy["body"]


async def test_a_command_in_an_internal_comment_is_answered_internally(
    gitlab_sim: Simulator, service: TestServer
) -> None:
    comment(gitlab_sim, "alice", "@hooks-bot health at risk: legal review", internal=True)
    await settle(gitlab_sim, store_of(service))

    [reply] = bot_notes(gitlab_sim)
    assert reply["internal"] is True
    assert "legal review" in reply["body"]


async def test_the_bots_own_reply_triggers_nothing(
    gitlab_sim: Simulator, service: TestServer
) -> None:
    comment(gitlab_sim, "alice", "@hooks-bot help")
    await settle(gitlab_sim, store_of(service))

    [reply] = bot_notes(gitlab_sim)
    trace = await trace_of(service, reply["id"])
    assert [(line["kind"], line["outcome"]) for line in trace] == [
        ("event", "received"),
        ("event", "ignored"),
    ]
    assert trace[1]["detail"]["reason"] == "caused by the bot's own user @hooks-bot; loop guard"


async def test_the_bots_own_reply_triggers_nothing_even_without_the_loop_guard_setting(
    gitlab_sim: Simulator, tmp_path: Path
) -> None:
    server = await serve(gitlab_sim, tmp_path, ignore_own_events=False)
    try:
        comment(gitlab_sim, "alice", "@hooks-bot help")
        await settle(gitlab_sim, store_of(server))

        [reply] = bot_notes(gitlab_sim)
        trace = await trace_of(server, reply["id"])
        assert trace[-1]["detail"]["reason"] == (
            "caused by the bot's own user @hooks-bot; loop guard"
        )
    finally:
        await server.close()


async def test_the_bots_own_reaction_triggers_nothing(
    gitlab_sim: Simulator, service: TestServer
) -> None:
    issue = as_user(gitlab_sim, BOT).projects.get(PRODUCT, lazy=True).issues.get(1)
    issue.awardemojis.create({"name": "thumbsup"})
    await settle(gitlab_sim, store_of(service))

    assert "liked" not in gitlab_sim.issue(PRODUCT, 1)["labels"]
    [delivery] = await store_of(service).list_deliveries(kind="emoji")
    trace = await store_of(service).audit_for(delivery_id=delivery.id)
    assert trace[-1]["detail"]["reason"] == "caused by the bot's own user @hooks-bot; loop guard"


async def test_an_emoji_rule_fires_on_award(gitlab_sim: Simulator, service: TestServer) -> None:
    issue = as_user(gitlab_sim, "bob").projects.get(PRODUCT, lazy=True).issues.get(1)
    issue.awardemojis.create({"name": "thumbsup"})
    await settle(gitlab_sim, store_of(service))

    assert "liked" in gitlab_sim.issue(PRODUCT, 1)["labels"]


async def test_another_emoji_leaves_the_issue_alone(
    gitlab_sim: Simulator, service: TestServer
) -> None:
    issue = as_user(gitlab_sim, "bob").projects.get(PRODUCT, lazy=True).issues.get(1)
    issue.awardemojis.create({"name": "eyes"})
    await settle(gitlab_sim, store_of(service))

    assert "liked" not in gitlab_sim.issue(PRODUCT, 1)["labels"]


async def test_an_emoji_on_a_merge_request_is_ignored_with_the_reason(
    gitlab_sim: Simulator, service: TestServer
) -> None:
    headers = {
        "X-Gitlab-Event": "Emoji Hook",
        "X-Gitlab-Token": SECRET,
        "X-Gitlab-Event-UUID": str(uuid.uuid4()),
    }
    # The Go client's payload, awarded by alice (its user, root, has the id the bot has here).
    payload = json.loads(fixture_bytes("clientgo_emoji_merge_request.json"))
    alice = gitlab_sim.state.user_by_name("alice")
    assert alice is not None
    payload["user"].update(id=alice["id"], username="alice")
    payload["object_attributes"]["user_id"] = alice["id"]
    async with ClientSession() as http:
        answer = await http.post(
            service.make_url("/webhook"), data=json.dumps(payload), headers=headers
        )
        assert answer.status == 202
        delivery_id = (await answer.json())["delivery"]
    await settle(gitlab_sim, store_of(service))

    delivery = await store_of(service).get_delivery(delivery_id)
    assert delivery is not None and delivery.status == "done"
    trace = await store_of(service).audit_for(delivery_id=delivery_id)
    assert trace[-1]["outcome"] == "ignored"
    assert trace[-1]["detail"]["reason"] == (
        "an emoji on a MergeRequest; rules act on issues and work items"
    )
