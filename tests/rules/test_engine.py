"""The engine: which rules match which events, what they plan, and their keys."""

from __future__ import annotations

import copy
import json
import textwrap
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hooks.events import parse_event
from hooks.rules.engine import Plan, plan, plan_schedule
from hooks.rules.loader import load_rules
from hooks.rules.model import RuleSet
from hooks.rules.reader import IssueInfo, MilestoneInfo, ReaderError, StaticReader
from tests.conftest import FIXTURE_EVENTS, fixture_bytes

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
SPRINTS = [
    MilestoneInfo(
        id=41,
        title="Sprint 41",
        state="closed",
        start_date="2026-11-02",
        due_date="2026-11-15",
        group="demo",
    ),
    MilestoneInfo(
        id=42, title="Sprint 42", start_date="2026-11-16", due_date="2026-11-29", group="demo"
    ),
    MilestoneInfo(
        id=43, title="Sprint 43", start_date="2026-11-30", due_date="2026-12-13", group="demo"
    ),
]

RULES = """
rules:
- name: on-open
  on: {issue: [open]}
  do: [{add_labels: [triage]}]
- name: on-label-added
  on: {issue: [update]}
  if: {label_added: [blocked]}
  do: [{set_health: needs_attention}]
- name: on-milestone-changed
  on: {issue: [update]}
  if: {changed: [milestone_id]}
  do: [{comment: "Moved to {{ milestone.title }}"}]
- name: on-confidential
  on: {confidential_issue: [open, update]}
  do: [{create_issue: {project: demo/marketing, title: "Follow-up", description: "{{ issue.title }}"}}]
- name: on-work-item
  on: {work_item: [open]}
  do: [{add_labels: [work-item]}]
- name: on-release-update
  on: {release: [update, delete]}
  do: [{create_issue: {project: demo/marketing, title: "Release {{ release.tag }} changed"}}]
- name: on-milestone-close
  on: {milestone: [close]}
  do: [{create_issue: {project: demo/product, title: "{{ milestone.title }} closed"}}]
"""


def payload(name: str) -> dict[str, Any]:
    return json.loads(fixture_bytes(name))


def issue_event(action: str = "open", **changes: Any) -> dict[str, Any]:
    p = payload("issue_open.json")
    p["object_attributes"]["action"] = action
    p["changes"] = changes
    return p


def label(title: str) -> dict[str, Any]:
    return {"id": 1, "title": title}


@pytest.fixture
def rules(tmp_path: Path) -> RuleSet:
    (tmp_path / "r.yaml").write_text(RULES)
    return load_rules(tmp_path)


def run(rules: RuleSet, header: str, body: dict[str, Any]) -> Plan:
    return plan(parse_event(header, body), rules, StaticReader(SPRINTS), now=NOW)


def matched(result: Plan) -> list[str]:
    return [t.rule for t in result.trace if t.matched]


CASES = [
    ("issue opened", "Issue Hook", lambda: issue_event("open"), ["on-open"]),
    (
        "label added",
        "Issue Hook",
        lambda: issue_event("update", labels={"previous": [], "current": [label("blocked")]}),
        ["on-label-added"],
    ),
    (
        "label removed",
        "Issue Hook",
        lambda: issue_event("update", labels={"previous": [label("blocked")], "current": []}),
        [],
    ),
    (
        "milestone changed",
        "Issue Hook",
        lambda: {
            **issue_event("update", milestone_id={"previous": 41, "current": 42}),
            "object_attributes": {
                **issue_event()["object_attributes"],
                "action": "update",
                "milestone_id": 42,
            },
        },
        ["on-milestone-changed"],
    ),
    (
        "confidential issue",
        "Confidential Issue Hook",
        lambda: {**issue_event("open"), "event_type": "confidential_issue"},
        ["on-confidential"],
    ),
    (
        "work item",
        "Issue Hook",
        lambda: payload("work_item_task_open.json"),
        ["on-work-item"],
    ),
    ("release created", "Release Hook", lambda: payload("release_create.json"), []),
    (
        "release updated",
        "Release Hook",
        lambda: {**payload("release_create.json"), "action": "update"},
        ["on-release-update"],
    ),
    (
        "release deleted",
        "Release Hook",
        lambda: {**payload("release_create.json"), "action": "delete"},
        ["on-release-update"],
    ),
    ("milestone created", "Milestone Hook", lambda: payload("milestone_create.json"), []),
    (
        "milestone closed",
        "Milestone Hook",
        lambda: {**payload("milestone_create.json"), "action": "close"},
        ["on-milestone-close"],
    ),
]


@pytest.mark.parametrize(("case", "header", "make", "expected"), CASES, ids=[c[0] for c in CASES])
def test_rules_match_the_events_they_listen_to(
    rules: RuleSet, case: str, header: str, make: Any, expected: list[str]
) -> None:
    assert matched(run(rules, header, make())) == expected


def test_a_milestone_change_comment_names_the_new_milestone(rules: RuleSet) -> None:
    body = issue_event("update", milestone_id={"previous": 41, "current": 42})
    body["object_attributes"]["milestone_id"] = 42

    [action] = run(rules, "Issue Hook", body).actions

    assert action.text == "Moved to Sprint 42"


def test_the_trace_names_the_first_failing_condition(rules: RuleSet) -> None:
    result = run(rules, "Issue Hook", issue_event("update"))

    reasons = {t.rule: t.reason for t in result.trace}
    assert reasons["on-label-added"] == "label_added: none of ['blocked'] was added"
    assert reasons["on-open"] == "on: issue action 'update' is not one of ['open']"
    assert reasons["on-release-update"] == "on: does not listen to issue events"


def test_a_resent_event_plans_the_same_keys_and_a_new_change_new_ones(rules: RuleSet) -> None:
    first = run(rules, "Issue Hook", issue_event("open"))
    again = run(rules, "Issue Hook", issue_event("open"))
    changed = issue_event("open")
    changed["object_attributes"]["updated_at"] = "2026-11-23 10:00:00 UTC"
    later = run(rules, "Issue Hook", changed)

    assert [a.key for a in first.actions] == [a.key for a in again.actions]
    assert {a.key for a in first.actions}.isdisjoint(a.key for a in later.actions)


def test_keys_are_short_ascii_and_safe_inside_an_html_comment(rules: RuleSet) -> None:
    for action in run(rules, "Issue Hook", issue_event("open")).actions:
        assert action.key.isascii() and " " not in action.key and "--" not in action.key
        assert len(action.key) <= 120


def test_one_rules_error_does_not_stop_the_others(tmp_path: Path) -> None:
    (tmp_path / "r.yaml").write_text(
        textwrap.dedent("""
        rules:
        - name: needs-next
          on: {issue: [open]}
          do: [{move_to_milestone: next}]
        - name: still-runs
          on: {issue: [open]}
          do: [{add_labels: [seen]}]
        """)
    )
    result = plan(
        parse_event("Issue Hook", issue_event("open")),
        load_rules(tmp_path),
        StaticReader([]),
        now=NOW,
    )

    errors = {t.rule: t.error for t in result.trace if t.error}
    assert "no milestone after" in errors["needs-next"]
    assert [a.rule for a in result.actions] == ["still-runs"]


CONFIDENTIAL = """
rules:
- name: quote-elsewhere
  on: {confidential_issue: [open]}
  do: [{comment: {body: "See {{ issue.title }}", target: "demo/marketing#1"}}]
- name: follow-up
  on: {confidential_issue: [open]}
  do: [{create_issue: {project: demo/marketing, title: "Follow up {{ issue.title }}"}}]
"""


def test_a_confidential_subject_is_never_quoted_somewhere_wider(tmp_path: Path) -> None:
    (tmp_path / "r.yaml").write_text(CONFIDENTIAL)
    body = {**issue_event("open"), "event_type": "confidential_issue"}
    body["object_attributes"]["confidential"] = True

    result = plan(
        parse_event("Confidential Issue Hook", body),
        load_rules(tmp_path),
        StaticReader(SPRINTS),
        now=NOW,
    )

    errors = {t.rule: t.error for t in result.trace if t.error}
    assert "refused: comment would carry text of confidential" in errors["quote-elsewhere"]
    [created] = result.actions
    assert created.params["confidential"] is True


def test_the_opt_out_allows_quoting_a_confidential_subject(tmp_path: Path) -> None:
    (tmp_path / "r.yaml").write_text(
        CONFIDENTIAL.replace(
            "  on: {confidential_issue: [open]}\n  do: [{comment",
            "  allow_confidential_leak: true\n  on: {confidential_issue: [open]}\n  do: [{comment",
            1,
        )
    )
    body = {**issue_event("open"), "event_type": "confidential_issue"}

    result = plan(
        parse_event("Confidential Issue Hook", body),
        load_rules(tmp_path),
        StaticReader(SPRINTS),
        now=NOW,
    )

    assert [a.action for a in result.actions] == ["comment", "create_issue"]


def test_untrusted_text_is_defused_but_the_authors_own_text_is_not(tmp_path: Path) -> None:
    (tmp_path / "r.yaml").write_text(
        'rules:\n- name: echo\n  on: {issue: [open]}\n  do: [{comment: "@team /label ok {{ issue.title }}"}]\n'
    )
    body = issue_event("open")
    body["object_attributes"]["title"] = "x\n/close\n@all and @here"

    [action] = plan(
        parse_event("Issue Hook", body), load_rules(tmp_path), StaticReader(), now=NOW
    ).actions

    assert action.text is not None
    assert action.text.startswith("@team /label ok x\n")
    assert (
        "\n/close" not in action.text and "@all" not in action.text and "@here" not in action.text
    )


def test_a_matched_rule_whose_health_change_gives_way_says_why_it_did_nothing(
    tmp_path: Path,
) -> None:
    (tmp_path / "r.yaml").write_text(
        textwrap.dedent("""
        rules:
        - name: starts-on-track
          on: {issue: [update]}
          do: [{set_health: on_track}, {comment: "On Track"}]
        - name: blocked
          on: {issue: [update]}
          if: {label_added: [blocked]}
          do: [{set_health: needs_attention}, {comment: "Needs Attention"}]
        """)
    )
    body = issue_event("update", labels={"previous": [], "current": [label("blocked")]})

    result = run(load_rules(tmp_path), "Issue Hook", body)

    assert [(a.rule, a.action) for a in result.actions] == [
        ("blocked", "set_health"),
        ("blocked", "comment"),
    ]
    on_track, blocked = result.trace
    assert on_track.matched
    assert on_track.reason == (
        "gave way on gitlabhq/gitlab-test#23: blocked sets needs_attention"
        " (one health change, one comment)"
    )
    assert blocked.matched and blocked.reason is None


def test_fan_out_acts_on_each_open_issue_of_the_current_sprint(tmp_path: Path) -> None:
    (tmp_path / "r.yaml").write_text(
        textwrap.dedent("""
        rules:
        - name: sweep
          on: {schedule: {cron: "0 8 * * *"}}
          for_each: {issues: {project: demo/product, milestone: current}}
          if: {labels: {none: ["health::*"]}}
          do: [{set_health: on_track}]
        """)
    )
    issues = [
        IssueInfo(iid=i, project_path="demo/product", labels=labels, milestone=SPRINTS[1])
        for i, labels in ((1, []), (2, ["health::at risk"]), (3, []))
    ]
    rule = load_rules(tmp_path).rules[0]

    result = plan_schedule(rule, NOW, StaticReader(SPRINTS, issues), now=NOW)

    assert [a.subject for a in result.actions] == ["demo/product#1", "demo/product#3"]
    assert result.trace[0].reason == "2 of 3 issues matched"
    assert all(a.key.startswith("sweep.0.") for a in result.actions)


def test_schedule_keys_carry_the_fire_time(tmp_path: Path) -> None:
    (tmp_path / "r.yaml").write_text(
        "rules:\n- name: retro\n  on: {schedule: {cron: '0 9 * * 3'}}\n"
        "  do: [{create_issue: {project: demo/marketing, title: Retro}}]\n"
    )
    rule = load_rules(tmp_path).rules[0]

    first = plan_schedule(rule, NOW, StaticReader(), now=NOW).actions[0].key
    same = plan_schedule(rule, NOW, StaticReader(), now=NOW).actions[0].key
    next_week = plan_schedule(rule, NOW.replace(day=30), StaticReader(), now=NOW).actions[0].key

    assert first == same != next_week


# -- properties --------------------------------------------------------------------------

PACK = load_rules(Path(__file__).resolve().parents[2] / "rules")
FIXTURES = {name: payload(name) for name in FIXTURE_EVENTS}
anything = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)


@st.composite
def shaped_like_fixtures(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    name = draw(st.sampled_from(sorted(FIXTURES)))
    body = copy.deepcopy(FIXTURES[name])
    for key in draw(st.lists(st.sampled_from(sorted(body)), max_size=4)):
        body[key] = draw(anything)
    attrs = body.get("object_attributes")
    if isinstance(attrs, dict):
        for key in draw(st.lists(st.sampled_from(sorted(attrs) or ["x"]), max_size=4)):
            attrs[key] = draw(anything)
    return FIXTURE_EVENTS[name], body


@given(shaped_like_fixtures())
@settings(max_examples=150, deadline=None)
def test_planning_never_raises_and_keys_are_stable(case: tuple[str, dict[str, Any]]) -> None:
    header, body = case
    try:
        event = parse_event(header, body)
    except ValueError:
        return  # refused by the parser with a reason; covered in test_fuzz
    reader = StaticReader(SPRINTS)

    first = plan(event, PACK, reader, now=NOW)
    second = plan(event, PACK, reader, now=NOW)

    assert [a.key for a in first.actions] == [a.key for a in second.actions]
    assert len(first.trace) == len(PACK.rules)


class GroupOnlyReader(StaticReader):
    """Knows the sprints only as a group's: reading a project's fails like GitLab's 404."""

    def __init__(self) -> None:
        super().__init__(SPRINTS)
        self.groups_read: list[str] = []

    def milestones(self, project: str) -> list[MilestoneInfo]:
        raise ReaderError(f"404 Project Not Found: {project!r}")

    def group_milestones(self, group: str) -> list[MilestoneInfo]:
        self.groups_read.append(group)
        return list(SPRINTS)


def test_a_group_milestone_event_without_a_project_reads_the_groups_milestones(
    tmp_path: Path,
) -> None:
    # GitLab sends a group milestone's event with "project": null (DataBuilder::Milestone).
    (tmp_path / "r.yaml").write_text(
        "rules:\n- name: last-sprint\n  on: {milestone: [close]}\n"
        "  if: {milestone: {has_next: false}}\n"
        "  do: [{create_issue: {project: demo/product, title: 'After {{ milestone.title }}'}}]\n"
    )
    body = payload("milestone_create.json")
    body.update(project=None, action="close")
    body["object_attributes"].update(id=43, title="Sprint 43", group_id=7, project_id=None)
    body["object_attributes"].update(start_date="2026-11-30", due_date="2026-12-13")
    reader = GroupOnlyReader()

    result = plan(parse_event("Milestone Hook", body), load_rules(tmp_path), reader, now=NOW)

    assert [t.error for t in result.trace] == [None]
    assert [a.params["title"] for a in result.actions] == ["After Sprint 43"]
    assert reader.groups_read == ["7"]
