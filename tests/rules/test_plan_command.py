"""`hooks plan`: what the rules would do for a payload file, as a table or JSON."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hooks.events import parse_event
from hooks.rules.cli import render_plan
from hooks.rules.engine import plan
from hooks.rules.loader import load_rules
from hooks.rules.reader import StaticReader
from hooks.service.cli import main

RULES = Path(__file__).resolve().parents[2] / "rules"
ISSUE = RULES / "fixtures" / "issue.json"


def payload_with(tmp_path: Path, **attrs: object) -> Path:
    body = json.loads(ISSUE.read_text())
    body["object_attributes"].update(attrs)
    body["labels"] = [{"title": "case-study"}]
    path = tmp_path / "event.json"
    path.write_text(json.dumps(body))
    return path


def test_plan_prints_a_readable_table_and_why_other_rules_did_not_act(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HOOKS_GITLAB_TOKEN", raising=False)

    status = main(["plan", str(payload_with(tmp_path)), "--rules", str(RULES)])

    out = capsys.readouterr().out
    assert "case-study-checklist" in out and "comment" in out and "demo/product#12" in out
    assert "  - retro-reminder: on: does not listen to issue events" in out
    # Rules that need GitLab data say so instead of guessing.
    assert "cannot read the milestones of demo/product: no GitLab token" in out
    assert status == 1


def test_plan_json_lists_actions_with_rule_subject_params_text_and_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HOOKS_GITLAB_TOKEN", raising=False)

    main(["plan", str(payload_with(tmp_path)), "--json", "--rules", str(RULES)])

    [action] = [
        a for a in json.loads(capsys.readouterr().out) if a["rule"] == "case-study-checklist"
    ]
    assert set(action) == {"rule", "action", "subject", "params", "text", "key", "dry_run"}
    assert action["subject"] == "demo/product#12" and "Headline" in action["text"]


def test_plan_refuses_an_unreadable_payload_with_a_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")

    assert main(["plan", str(bad), "--rules", str(RULES)]) == 1
    assert "cannot read" in capsys.readouterr().err


def test_plan_says_why_a_matched_rule_does_nothing(tmp_path: Path) -> None:
    (tmp_path / "r.yaml").write_text(
        "rules:\n"
        "- name: starts-on-track\n  on: {issue: [update]}\n"
        "  do: [{set_health: on_track}, {comment: On Track}]\n"
        "- name: blocked\n  on: {issue: [update]}\n"
        "  do: [{set_health: needs_attention}, {comment: Needs Attention}]\n"
    )
    body = json.loads(ISSUE.read_text())
    body["object_attributes"]["action"] = "update"
    event = parse_event("Issue Hook", body)

    text = render_plan(plan(event, load_rules(tmp_path), StaticReader(), now=datetime.now(UTC)))

    assert text.splitlines()[-1] == (
        "  = starts-on-track: matched, does nothing: gave way on demo/product#12: "
        "blocked sets needs_attention (one health change, one comment)"
    )


def test_plan_without_actions_says_how_many_rules_could_not_be_evaluated(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HOOKS_GITLAB_TOKEN", raising=False)
    release = Path(__file__).resolve().parents[2] / "rules" / "fixtures" / "release.json"

    status = main(["plan", str(release), "--event", "Release Hook", "--rules", str(RULES)])

    out = capsys.readouterr().out
    assert status == 1
    assert out.splitlines()[0] == "no action planned; 2 rule(s) could not be evaluated (marked !)"


def kind_probe(tmp_path: Path) -> Path:
    """A rules folder whose one rule says which kind of event it was shown."""
    rules = tmp_path / "probe-rules"
    rules.mkdir()
    (rules / "r.yaml").write_text(
        "rules:\n- name: weekly\n  on: {schedule: {cron: '0 9 * * 1'}}\n"
        "  do: [{create_issue: {project: demo/product, title: Weekly}}]\n"
    )
    return rules


def payload_file(tmp_path: Path, fixture: str, **fields: object) -> Path:
    body = json.loads((RULES / "fixtures" / fixture).read_text())
    for name, value in fields.items():
        if value is None:
            body.pop(name, None)
        else:
            body[name] = value
    path = tmp_path / "event.json"
    path.write_text(json.dumps(body))
    return path


@pytest.mark.parametrize(
    ("fixture", "object_kind", "event_type", "kind"),
    [
        ("issue.json", "issue", "issue", "issue"),
        ("issue.json", "issue", "confidential_issue", "confidential_issue"),
        ("issue.json", "work_item", "work_item", "work_item"),
        ("release.json", "release", None, "release"),
        ("milestone.json", "milestone", "milestone", "milestone"),
    ],
)
def test_plan_without_event_tells_the_kind_from_object_kind_and_event_type(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    fixture: str,
    object_kind: str,
    event_type: str | None,
    kind: str,
) -> None:
    event = payload_file(tmp_path, fixture, object_kind=object_kind, event_type=event_type)

    status = main(["plan", str(event), "--rules", str(kind_probe(tmp_path))])

    assert capsys.readouterr().out.splitlines() == [
        "no action planned",
        f"  - weekly: on: does not listen to {kind} events",
    ]
    assert status == 0


@pytest.mark.parametrize(
    ("object_kind", "event_type", "header"),
    [
        ("push", None, "Push Hook"),
        ("merge_request", "merge_request", "Merge Request Hook"),
    ],
)
def test_plan_without_event_refuses_an_unhandled_kind_as_it_refuses_that_event(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    object_kind: str,
    event_type: str | None,
    header: str,
) -> None:
    event = payload_file(tmp_path, "issue.json", object_kind=object_kind, event_type=event_type)
    rules = str(kind_probe(tmp_path))
    named = main(["plan", str(event), "--event", header, "--rules", rules])
    refusal = capsys.readouterr()

    status = main(["plan", str(event), "--rules", rules])

    assert (status, capsys.readouterr()) == (named, refusal)
    assert status == 1
    assert refusal.err == f"hooks: {event}: event kind {header!r} is not handled\n"


def test_plan_without_event_refuses_a_payload_that_does_not_say_its_kind(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    event = payload_file(tmp_path, "issue.json", object_kind=None, event_type=None)

    status = main(["plan", str(event), "--rules", str(kind_probe(tmp_path))])

    assert status == 1
    assert capsys.readouterr().err == (
        f"hooks: {event}: the payload has no object_kind; name its event with --event\n"
    )
