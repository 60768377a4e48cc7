"""The difference of two plans of one history, without GitLab or a database: what is added,
removed or altered, grouped by rule, counted, and at most 20 subjects shown per group."""

from __future__ import annotations

import json
from copy import deepcopy
from datetime import UTC, datetime, timedelta
from typing import Any

from ruamel.yaml import YAML

from hooks.preview.report import PreviewReport
from hooks.preview.run import plan_and_diff
from hooks.rules.model import Rule, RuleSet
from hooks.rules.reader import StaticReader
from hooks.storage.history import Recorded
from tests.preview_history import payload

NOW = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)

LABEL_PLATFORM = """
- name: platform-triage
  on: {issue: [update]}
  if: {label_added: [Platform]}
  do: [{add_labels: [triage]}]
"""
THANK_AUTHOR = """
- name: thank-the-author
  on: {issue: [update]}
  do: [{comment: "Thanks for the update!"}]
"""
CLOSE_IT = """
- name: close-stale
  on: {issue: [update]}
  do: [{close: true}]
"""


def rules(*texts: str) -> RuleSet:
    loaded = YAML(typ="safe").load("".join(texts))
    return RuleSet([Rule.model_validate(r) for r in loaded or []])


def label_update(iid: int) -> dict[str, Any]:
    """GitLab's issue update payload (labels API -> Platform), for issue `iid`."""
    data = deepcopy(payload("issue_update_labels.json"))
    data["object_attributes"]["iid"] = iid
    data["object_attributes"]["id"] = 1000 + iid
    return data


def history(*bodies: dict[str, Any], own: bool = False) -> list[Recorded]:
    return [
        Recorded(n + 1, "Issue Hook", json.dumps(b).encode(), NOW - timedelta(hours=n + 1), own)
        for n, b in enumerate(bodies)
    ]


def compare(recorded: list[Recorded], live: RuleSet, candidate: RuleSet) -> PreviewReport:
    return plan_and_diff(
        recorded,
        StaticReader(),
        live,
        candidate,
        start=NOW - timedelta(days=14),
        now=NOW,
        gitlab_url="https://gitlab.example.com",
        default_tz="UTC",
        online=True,
    )


def test_a_changed_label_is_altered_on_each_subject() -> None:
    report = compare(
        history(label_update(1), label_update(2)),
        rules(LABEL_PLATFORM),
        rules(LABEL_PLATFORM.replace("[triage]", "[needs-triage]")),
    )

    [diff] = report.rules
    assert diff.rule == "platform-triage"
    assert (diff.added.actions, diff.removed.actions, diff.altered.actions) == (0, 0, 2)
    first = diff.altered.shown[0]
    assert first.subject == "gitlabhq/gitlab-test#1"
    assert first.url == "https://gitlab.example.com/gitlabhq/gitlab-test/-/issues/1"
    assert first.before == ['add_labels: {"labels": ["triage"]}']
    assert first.after == ['add_labels: {"labels": ["needs-triage"]}']
    assert first.sources == ["delivery 1"]


def test_added_and_removed_actions_are_grouped_by_their_rule() -> None:
    report = compare(
        history(label_update(1), label_update(2), label_update(3)),
        rules(LABEL_PLATFORM, THANK_AUTHOR),
        rules(LABEL_PLATFORM, CLOSE_IT),
    )

    by_rule = {d.rule: d for d in report.rules}
    assert sorted(by_rule) == ["close-stale", "thank-the-author"]  # platform-triage unchanged
    assert by_rule["close-stale"].added.actions == 3
    assert by_rule["close-stale"].removed.actions == 0
    assert by_rule["thank-the-author"].removed.actions == 3
    assert by_rule["thank-the-author"].removed.shown[0].before == [
        "comment: Thanks for the update!"
    ]
    assert report.rules_changed == {"close-stale": "added", "thank-the-author": "removed"}
    assert report.has_differences


def test_at_most_20_subjects_are_shown_and_all_are_counted() -> None:
    report = compare(
        history(*(label_update(iid) for iid in range(1, 26))),
        rules(LABEL_PLATFORM),
        rules(LABEL_PLATFORM.replace("[triage]", "[needs-triage]")),
    )

    [diff] = report.rules
    assert diff.altered.actions == diff.altered.subjects == 25
    shown = [s.subject for s in diff.altered.shown]
    assert shown == [f"gitlabhq/gitlab-test#{n}" for n in range(1, 21)]
    assert "... and 5 more" in report.to_text()
    assert "… and 5 more" in report.to_markdown()
    assert json.loads(report.to_json())["rules"][0]["altered"]["subjects"] == 25


def test_an_event_delivered_twice_acts_once_on_each_side() -> None:
    # The same change through a group hook and a project hook: two deliveries, one key.
    report = compare(
        history(label_update(1), label_update(1)),
        rules(LABEL_PLATFORM),
        rules(LABEL_PLATFORM.replace("[triage]", "[needs-triage]")),
    )

    assert report.deliveries == 2
    assert report.live_actions == report.candidate_actions == 1
    assert report.rules[0].altered.actions == 1


def test_the_bots_own_events_are_not_replayed() -> None:
    report = compare(history(label_update(1), own=True), rules(), rules(CLOSE_IT))

    assert report.skipped_own_events == 1 and report.deliveries == 0
    assert not report.has_differences


def test_identical_rules_have_no_difference() -> None:
    report = compare(history(label_update(1)), rules(LABEL_PLATFORM), rules(LABEL_PLATFORM))

    assert report.rules == [] and not report.has_differences
    assert report.to_text().startswith("no action would change: 1 deliveries")


def test_text_from_payloads_cannot_ping_or_run_quick_actions_in_the_markdown_note() -> None:
    noisy = THANK_AUTHOR.replace("Thanks for the update!", "/close @all thanks")
    report = compare(history(label_update(1)), rules(), rules(noisy))

    line = next(x for x in report.to_markdown().splitlines() if "gitlab-test#1" in x)
    assert "`comment: /close @all thanks`" in line
    assert not any(x.startswith("/") for x in report.to_markdown().splitlines())


def test_a_moved_schedule_fires_at_its_own_times_on_each_side() -> None:
    standup = """
- name: standup-notes
  on: {schedule: {cron: "0 9 * * *", timezone: UTC}}
  do: [{create_issue: {project: demo/marketing, title: "Stand-up {{ today }}", link: none}}]
"""
    report = plan_and_diff(
        [],
        StaticReader(),
        rules(standup),
        rules(standup.replace("0 9 * * *", "0 10 * * *")),
        start=NOW - timedelta(days=2),
        now=NOW,
        gitlab_url="https://gitlab.example.com",
        default_tz="UTC",
        online=True,
    )

    [diff] = report.rules
    assert report.scheduled_fires == 4  # in (Dec 3 09:00, Dec 5 09:00]: two at 9, two at 10
    [removed] = diff.removed.shown
    [added] = diff.added.shown
    assert removed.sources == [
        "schedule standup-notes@2026-12-04T09:00:00+00:00",
        "schedule standup-notes@2026-12-05T09:00:00+00:00",
    ]
    assert added.sources == [
        "schedule standup-notes@2026-12-03T10:00:00+00:00",
        "schedule standup-notes@2026-12-04T10:00:00+00:00",
    ]
    assert added.subject == "demo/marketing (new issue)"
    assert added.url == "https://gitlab.example.com/demo/marketing/-/issues"
