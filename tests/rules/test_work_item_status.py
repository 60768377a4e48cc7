"""Work item status in the rule language: the `status` and `status_changed` conditions, the
`set_status` decision and planning, the per-namespace cache and `hooks check` warnings.

Built from GitLab's documented payload (tests/fixtures/webhooks/issue_update_labels.json) and
GitLab's statuses: the five system-defined ones, and custom ones of a top-level group.
"""

from __future__ import annotations

import copy
import json
import textwrap
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from hooks.actions.base import PlanError, Satisfied
from hooks.actions.status import SetStatusTo, StatusParams, decide, resolve
from hooks.events import parse_event
from hooks.rules.engine import plan
from hooks.rules.gitlab_reader import StatusCache
from hooks.rules.loader import load_rules
from hooks.rules.model import StatusChangeTest, StatusTest
from hooks.rules.reader import StaticReader, StatusInfo, default_statuses
from hooks.rules.status_conditions import change_of, status_change_failure, status_failure
from hooks.service.cli import main
from hooks.testing.clock import FakeClock
from tests.conftest import fixture_bytes

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
SUBJECT = "gitlabhq/gitlab-test#23"  # the issue of GitLab's documented payload
TO_DO, IN_PROGRESS, DONE, WONT_DO, DUPLICATE = default_statuses()


def labelled_event(added: str, changes: dict[str, Any] | None = None) -> Any:
    """GitLab's documented issue update, with `added` among the labels the change added."""
    payload = json.loads(fixture_bytes("issue_update_labels.json"))
    payload = copy.deepcopy(payload)
    label = {"id": 999, "title": added}
    payload["labels"] = [*payload["labels"], label]
    payload["changes"]["labels"]["current"] = [*payload["changes"]["labels"]["current"], label]
    payload["changes"].update(changes or {})
    return parse_event("Issue Hook", payload)


def rules(tmp_path: Path, text: str) -> Any:
    (tmp_path / "rules.yaml").write_text(textwrap.dedent(text).lstrip())
    return load_rules(tmp_path)


# -- the status condition -----------------------------------------------------------------


def test_status_any_matches_names_case_insensitively() -> None:
    assert status_failure(StatusTest(any=["in PROGRESS"]), IN_PROGRESS) is None


def test_status_any_says_which_status_the_subject_has() -> None:
    reason = status_failure(StatusTest(any=["Done"]), TO_DO)
    assert reason == "status: 'To do' is not one of ['Done']"


def test_status_none_fails_on_a_listed_status() -> None:
    reason = status_failure(StatusTest(none=["won't do"]), WONT_DO)
    assert reason == "status: 'Won't do' is one of [\"won't do\"]"


def test_status_category_covers_every_status_of_that_category() -> None:
    test = StatusTest(category=["canceled"])
    assert status_failure(test, WONT_DO) is None
    assert status_failure(test, DUPLICATE) is None
    assert status_failure(test, DONE) == "status: 'Done' is done, not one of ['canceled']"


def test_without_a_status_widget_a_status_test_fails_and_says_why() -> None:
    reason = status_failure(StatusTest(any=["Done"]), None)
    assert reason == "status: none (no status widget: GitLab Free, or before 18.2)"
    assert status_failure(StatusTest(none=["Done"]), None) is None


# -- the status_changed condition ---------------------------------------------------------


def test_gitlab_payloads_carry_no_status_change() -> None:
    event = labelled_event("doing")
    assert change_of(event) is None
    reason = status_change_failure(StatusChangeTest(to="Done"), None)
    assert reason == (
        "status_changed: the event carries no status change (GitLab's webhooks have none)"
    )


def test_a_payload_carrying_a_status_change_is_read_by_name() -> None:
    changes = {"status": {"previous": {"name": "To do"}, "current": {"name": "In progress"}}}
    change = change_of(labelled_event("doing", changes))
    assert change == ("To do", "In progress")
    assert status_change_failure(StatusChangeTest(to="in progress", from_="To do"), change) is None
    assert status_change_failure(StatusChangeTest(to=["Done"]), change) == (
        "status_changed: to 'In progress', not one of ['Done']"
    )


# -- set_status: planning and decision ----------------------------------------------------


def test_a_known_name_resolves_to_gitlabs_status_and_global_id() -> None:
    found = resolve("in progress", "demo/product", default_statuses())
    assert found.id == "gid://gitlab/WorkItems::Statuses::SystemDefined::Status/2"
    assert (found.name, found.category) == ("In progress", "in_progress")


def test_an_unknown_name_is_a_planning_error_listing_the_allowed_ones() -> None:
    with pytest.raises(PlanError) as raised:
        resolve("In review", "demo/product", default_statuses())
    assert str(raised.value) == (
        "set_status: unknown status 'In review' in demo; allowed: 'To do', 'In progress',"
        " 'Done', \"Won't do\", 'Duplicate'"
    )


def test_a_namespace_without_statuses_is_a_planning_error_naming_the_tier() -> None:
    with pytest.raises(PlanError, match=r"18\.2 or later, Premium or Ultimate"):
        resolve("Done", "demo/product", [])


def test_the_status_the_subject_has_already_is_satisfied() -> None:
    params = StatusParams(IN_PROGRESS.id, "In progress", "in_progress")
    assert decide(params, IN_PROGRESS) == Satisfied(
        {"status": "In progress", "previous": "In progress"}
    )


def test_another_status_is_one_write_of_the_wanted_id() -> None:
    params = StatusParams(DONE.id, "Done", "done")
    decision = decide(params, TO_DO)
    assert decision == SetStatusTo(str(DONE.id), {"status": "Done", "previous": "To do"})


# -- the engine ---------------------------------------------------------------------------

STATUS_RULES = """
rules:
- name: doing-starts-work
  on: {issue: [update]}
  if: {label_added: [doing], status: {any: [To do]}}
  do: [{set_status: In progress}]
- name: typo
  on: {issue: [update]}
  if: {label_added: [typo]}
  do: [{set_status: In progres}]
"""


def test_the_engine_plans_set_status_for_a_to_do_item(tmp_path: Path) -> None:
    reader = StaticReader(subject_statuses={SUBJECT: TO_DO})
    result = plan(labelled_event("doing"), rules(tmp_path, STATUS_RULES), reader, now=NOW)
    [action] = result.actions
    assert (action.action, action.subject) == ("set_status", SUBJECT)
    assert action.params["status_id"] == IN_PROGRESS.id


def test_the_engine_leaves_an_item_of_another_status_alone(tmp_path: Path) -> None:
    reader = StaticReader(subject_statuses={SUBJECT: DONE})
    result = plan(labelled_event("doing"), rules(tmp_path, STATUS_RULES), reader, now=NOW)
    assert result.actions == []
    [trace] = [t for t in result.trace if t.rule == "doing-starts-work"]
    assert trace.reason == "status: 'Done' is not one of ['To do']"


def test_an_unknown_status_name_is_the_rules_error_in_the_trace(tmp_path: Path) -> None:
    result = plan(labelled_event("typo"), rules(tmp_path, STATUS_RULES), StaticReader(), now=NOW)
    assert result.actions == []
    [trace] = [t for t in result.trace if t.rule == "typo"]
    assert trace.error is not None
    assert "unknown status 'In progres' in gitlabhq; allowed: 'To do', 'In progress'" in trace.error


def test_custom_statuses_replace_gitlabs_five(tmp_path: Path) -> None:
    custom = [StatusInfo(id="gid://gitlab/WorkItems::Statuses::Custom::Status/7", name="Doing")]
    reader = StaticReader(statuses=custom, subject_statuses={SUBJECT: TO_DO})
    result = plan(labelled_event("doing"), rules(tmp_path, STATUS_RULES), reader, now=NOW)
    [trace] = [t for t in result.trace if t.rule == "doing-starts-work"]
    assert trace.error is not None and "allowed: 'Doing'" in trace.error


# -- the cache ----------------------------------------------------------------------------


def test_allowed_statuses_are_read_once_per_namespace_until_the_ttl_passes() -> None:
    clock = FakeClock()
    cache = StatusCache(ttl_s=300, clock=clock.monotonic)
    reads: list[str] = []

    def read() -> list[StatusInfo]:
        reads.append("demo")
        return default_statuses()

    cache.get("demo", read)
    clock.advance(299)
    cache.get("demo", read)
    assert reads == ["demo"]
    clock.advance(2)
    assert [s.name for s in cache.get("demo", read)][:2] == ["To do", "In progress"]
    assert reads == ["demo", "demo"]


def test_each_top_level_namespace_has_its_own_statuses() -> None:
    cache = StatusCache(ttl_s=300, clock=FakeClock().monotonic)
    cache.get("demo", default_statuses)
    other = cache.get("acme", lambda: [StatusInfo(name="Doing", category="in_progress")])
    assert [s.name for s in other] == ["Doing"]


# -- hooks check --------------------------------------------------------------------------


def test_check_warns_where_an_examples_gitlab_does_not_allow_a_status(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "rules.yaml").write_text(
        textwrap.dedent(
            """
            rules:
            - name: starts-work
              on: {issue: [update]}
              if: {status: {any: [Blocked]}}
              do: [{set_status: In progress}]
              examples:
                - name: custom statuses
                  event: {payload: {object_kind: issue}}
                  gitlab:
                    statuses: [{name: To do, category: to_do}, {name: Blocked, category: in_progress}]
                    issues: [{iid: 1, web_url: "http://x/demo/p/-/issues/1", status: Stalled}]
                  expect: []
            """
        ).lstrip()
    )
    status = main(["check", str(tmp_path)])
    err = capsys.readouterr().err
    assert status == 0  # a warning: the statuses live in GitLab, not in the rule files
    lines = err.strip().splitlines()
    assert len(lines) == 2
    assert "rules.yaml:2: rule 'starts-work': warning: example 'custom statuses':" in lines[0]
    assert "the rule uses status 'In progress'" in lines[0]
    assert "'To do', 'Blocked'" in lines[0]
    assert "an issue of its GitLab shows status 'Stalled'" in lines[1]


def test_a_rule_on_a_status_change_is_not_reconcilable_but_one_on_the_status_is() -> None:
    from hooks.rules.model import Rule
    from hooks.rules.reconcilable import not_reconcilable

    def rule(condition: dict[str, Any]) -> Rule:
        return Rule.model_validate(
            {"name": "r", "on": {"issue": ["update"]}, "if": condition, "do": [{"close": True}]}
        )

    assert not_reconcilable(rule({"status": {"any": ["Done"]}})) is None
    reason = not_reconcilable(rule({"status_changed": {"to": "Done"}}))
    assert reason is not None and "(status)" in reason


def test_a_task_opened_as_a_work_item_is_tested_on_its_own_status(tmp_path: Path) -> None:
    # GitLab sends a task as "Issue Hook" with object_kind work_item; tasks have statuses too.
    task_rules = """
    rules:
    - name: triage-new-tasks
      on: {work_item: [open]}
      if: {status: {category: [triage, to_do]}}
      do: [{set_status: In progress}]
    """
    event = parse_event("Issue Hook", json.loads(fixture_bytes("work_item_task_open.json")))
    assert event.kind == "work_item"
    reader = StaticReader(subject_statuses={SUBJECT: TO_DO})
    [action] = plan(event, rules(tmp_path, task_rules), reader, now=NOW).actions
    assert (action.subject, action.params["name"]) == (SUBJECT, "In progress")
