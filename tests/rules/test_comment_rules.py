"""Rules on comments and reactions, planned from real payloads: commands, patterns, emoji,
access levels, and private comments kept in their issue."""

from __future__ import annotations

import json
import textwrap
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from hooks.events import parse_event
from hooks.rules.comments import MAX_COMMAND, PatternError, compiled, parse_command
from hooks.rules.engine import Plan, plan
from hooks.rules.gitlab_reader import AccessCache
from hooks.rules.loader import RuleErrors, load_rules
from hooks.rules.reader import StaticReader
from hooks.testing.clock import FakeClock
from tests.conftest import fixture_bytes

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
AUTHOR = 42  # the user of clientgo_note_issue.json


def note(text: str, **attrs: Any) -> dict[str, Any]:
    body = json.loads(fixture_bytes("clientgo_note_issue.json"))
    body["object_attributes"].update(note=text, **attrs)
    return dict(body)


def planned(
    tmp_path: Path,
    rules: str,
    payload: dict[str, Any],
    header: str = "Note Hook",
    members: dict[int, int] | None = None,
) -> Plan:
    (tmp_path / "rules.yaml").write_text(textwrap.dedent(rules))
    reader = StaticReader(members=members or {})
    return plan(
        parse_event(header, payload), load_rules(tmp_path), reader, now=NOW, bot="hooks-bot"
    )


COMMAND = """
rules:
- name: at-risk
  on: {note: [create]}
  if: {command: {matches: '^health at risk'}, author_access: developer}
  do: [{set_health: at_risk}]
"""


# -- commands ---------------------------------------------------------------------------


def test_a_command_is_the_words_after_the_mention_at_a_lines_start() -> None:
    command = parse_command("Looks late.\n@hooks-bot health at risk: waiting on legal", "hooks-bot")
    assert command is not None
    assert (command.name, command.args, command.reason) == (
        "health",
        "at risk: waiting on legal",
        "waiting on legal",
    )


def test_the_mention_is_matched_whatever_its_case() -> None:
    command = parse_command("@Hooks-Bot help", "hooks-bot")
    assert command is not None and command.name == "help"


def test_a_mention_inside_a_sentence_or_of_a_longer_name_is_no_command() -> None:
    assert parse_command("thanks @hooks-bot health at risk", "hooks-bot") is None
    assert parse_command("@hooks-bot-2 health at risk", "hooks-bot") is None


def test_a_command_line_over_the_limit_is_marked_too_long() -> None:
    command = parse_command("@hooks-bot " + "x" * (MAX_COMMAND + 1), "hooks-bot")
    assert command is not None and command.too_long
    assert len(command.text) == MAX_COMMAND


def test_a_developers_command_plans_the_health_change(tmp_path: Path) -> None:
    result = planned(tmp_path, COMMAND, note("@hooks-bot health at risk"), members={AUTHOR: 30})
    assert [(a.action, a.params["status"]) for a in result.actions] == [("set_health", "at_risk")]


def test_an_inherited_maintainer_is_at_least_a_developer(tmp_path: Path) -> None:
    result = planned(tmp_path, COMMAND, note("@hooks-bot health at risk"), members={AUTHOR: 40})
    assert len(result.actions) == 1


def test_a_reporters_command_says_which_role_it_has(tmp_path: Path) -> None:
    result = planned(tmp_path, COMMAND, note("@hooks-bot health at risk"), members={AUTHOR: 20})
    assert result.actions == []
    assert result.trace[0].reason == "author_access: @user1 is reporter, not developer or above"


def test_members_are_not_read_when_an_earlier_test_fails(tmp_path: Path) -> None:
    # StaticReader(offline) would raise if asked for members
    (tmp_path / "rules.yaml").write_text(textwrap.dedent(COMMAND))
    result = plan(
        parse_event("Note Hook", note("just a comment")),
        load_rules(tmp_path),
        StaticReader(offline=True),
        now=NOW,
        bot="hooks-bot",
    )
    assert result.trace[0].error is None
    assert result.trace[0].reason == (
        "command: the comment has no line starting with a mention of the bot"
    )


def test_an_edited_comment_is_an_update_not_a_create(tmp_path: Path) -> None:
    result = planned(
        tmp_path,
        COMMAND,
        note("@hooks-bot health at risk", action="update"),
        members={AUTHOR: 30},
    )
    assert result.trace[0].reason == "on: note action 'update' is not one of ['create']"


# -- patterns ---------------------------------------------------------------------------


def test_a_pattern_re2_cannot_run_is_named_with_its_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "rules.yaml").write_text(
        "rules:\n- name: r\n  on: {note: [create]}\n"
        "  if: {comment: {matches: '(a+)\\1'}}\n  do: [{comment: hi}]\n"
    )
    with pytest.raises(RuleErrors) as caught:
        load_rules(tmp_path)
    assert "rules.yaml:4" in str(caught.value.errors[0])
    assert "not a pattern RE2 can run" in str(caught.value.errors[0])


def test_a_pattern_that_backtracks_elsewhere_runs_in_linear_time_on_a_megabyte() -> None:
    pattern = compiled("(a+)+$")  # catastrophic for a backtracking engine
    text = "a" * 1_000_000 + "b"
    started = time.perf_counter()
    assert pattern.search(text) is None
    assert time.perf_counter() - started < 1.0


def test_lookaround_is_refused() -> None:
    with pytest.raises(PatternError):
        compiled("(?=x)")


# -- emoji ------------------------------------------------------------------------------


EMOJI = """
rules:
- name: liked
  on: {emoji: [award]}
  if: {emoji: {any: [thumbsup, heart]}}
  do: [{add_labels: [liked]}]
"""


def test_an_awarded_emoji_of_the_list_plans_the_action(tmp_path: Path) -> None:
    payload = json.loads(fixture_bytes("clientgo_emoji_issue.json"))
    result = planned(tmp_path, EMOJI, payload, header="Emoji Hook")
    assert [a.subject for a in result.actions] == ["flightjs/Flight#1"]


def test_a_revoked_emoji_is_not_an_award(tmp_path: Path) -> None:
    payload = json.loads(fixture_bytes("emoji_issue_revoke.json"))
    result = planned(tmp_path, EMOJI, payload, header="Emoji Hook")
    assert result.trace[0].reason == "on: emoji action 'revoke' is not one of ['award']"


def test_another_emoji_says_which_it_was(tmp_path: Path) -> None:
    payload = json.loads(fixture_bytes("clientgo_emoji_issue.json"))
    payload["object_attributes"]["name"] = "eyes"
    result = planned(tmp_path, EMOJI, payload, header="Emoji Hook")
    assert result.trace[0].reason == "emoji: eyes, not one of ['thumbsup', 'heart']"


def test_an_emoji_on_a_comment_reads_that_comments_text(tmp_path: Path) -> None:
    rules = """
    rules:
    - name: liked-comment
      on: {emoji: [award]}
      if: {comment: {matches: 'comment on an issue'}}
      do: [{comment: "liked: {{ comment.note }}"}]
    """
    payload = json.loads(fixture_bytes("clientgo_emoji_note_issue.json"))
    result = planned(tmp_path, rules, payload, header="Emoji Hook")
    assert [a.text for a in result.actions] == [f"liked: {payload['note']['note']}"]


# -- private comments -------------------------------------------------------------------


COPY = """
rules:
- name: copy
  on: {note: [create]}
  allow_confidential_leak: true
  do:
    - comment: {body: "{{ comment.note }}", target: "other/project#1"}
    - comment: "Noted: {{ comment.note }}"
"""


def test_a_confidential_comments_text_never_goes_to_another_issue(tmp_path: Path) -> None:
    payload = json.loads(fixture_bytes("confidential_note_issue.json"))
    result = planned(tmp_path, COPY, payload, header="Confidential Note Hook")
    assert result.actions == []
    assert "stays in its issue" in (result.trace[0].error or "")


def test_a_reply_quoting_an_internal_comment_is_internal(tmp_path: Path) -> None:
    rules = """
    rules:
    - name: echo
      on: {note: [create]}
      do: [{comment: "Noted: {{ comment.note }}"}, {comment: "Thanks!"}]
    """
    payload = note("secret plan", internal=True)
    payload["event_type"] = "confidential_note"
    result = planned(tmp_path, rules, payload, header="Confidential Note Hook")
    assert [a.params["internal"] for a in result.actions] == [True, False]


def test_a_public_comment_may_be_copied(tmp_path: Path) -> None:
    result = planned(tmp_path, COPY, note("public news"))
    assert [a.subject for a in result.actions] == ["other/project#1", "gitlab-org/gitlab-test#17"]


# -- the members cache ------------------------------------------------------------------


def test_an_access_level_is_read_once_while_it_is_fresh() -> None:
    clock = FakeClock()
    cache = AccessCache(ttl_s=300, clock=clock.monotonic)
    reads: list[int] = []

    def read() -> int:
        reads.append(1)
        return 30

    assert [cache.get(("p", 1), read) for _ in range(3)] == [30, 30, 30]
    clock.advance(301)
    cache.get(("p", 1), read)
    assert len(reads) == 2


def test_a_comment_on_a_work_item_is_planned_on_that_item(tmp_path: Path) -> None:
    payload = note("@hooks-bot health at risk", noteable_type="WorkItem")
    payload["work_item"] = payload.pop("issue")
    result = planned(tmp_path, COMMAND, payload, members={AUTHOR: 30})
    assert [a.subject for a in result.actions] == ["gitlab-org/gitlab-test#17"]


def test_an_internal_comments_text_never_goes_to_the_team_chat(tmp_path: Path) -> None:
    rules = """
    rules:
    - name: tell-the-team
      on: {note: [create]}
      do: [{notify: {to: team-chat, text: "New comment: {{ comment.note }}"}}]
    """
    payload = note("the customer may churn", internal=True)
    payload["event_type"] = "confidential_note"
    result = planned(tmp_path, rules, payload, header="Confidential Note Hook")
    assert result.actions == []
    assert "to its notify target; such text stays in its issue" in (result.trace[0].error or "")


def test_a_chat_message_that_does_not_quote_a_private_comment_may_go(tmp_path: Path) -> None:
    rules = """
    rules:
    - name: tell-the-team
      on: {note: [create]}
      do: [{notify: {to: team-chat, text: "{{ user.username }} commented on {{ issue.web_url }}"}}]
    """
    payload = note("the customer may churn", internal=True)
    payload["event_type"] = "confidential_note"
    result = planned(tmp_path, rules, payload, header="Confidential Note Hook")
    assert [a.action for a in result.actions] == ["notify"]


def test_a_reacted_comments_text_is_kept_in_its_issue_as_gitlab_does_not_say_if_internal(
    tmp_path: Path,
) -> None:
    rules = """
    rules:
    - name: copy-liked
      on: {emoji: [award]}
      do: [{comment: {body: "{{ comment.note }}", target: "other/project#1"}}]
    """
    payload = json.loads(fixture_bytes("clientgo_emoji_note_issue.json"))
    result = planned(tmp_path, rules, payload, header="Emoji Hook")
    assert "stays in its issue" in (result.trace[0].error or "")


def test_a_reacted_comment_the_payload_says_is_public_may_be_copied(tmp_path: Path) -> None:
    rules = """
    rules:
    - name: copy-liked
      on: {emoji: [award]}
      do: [{comment: {body: "{{ comment.note }}", target: "other/project#1"}}]
    """
    payload = json.loads(fixture_bytes("clientgo_emoji_note_issue.json"))
    payload["note"]["internal"] = False
    result = planned(tmp_path, rules, payload, header="Emoji Hook")
    assert [a.subject for a in result.actions] == ["other/project#1"]
