"""Rule examples: an event and the actions expected, checked like unit tests (`hooks test`)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hooks.actions.base import PlannedAction
from hooks.actions.registry import KINDS
from hooks.events import EventParseError, parse_event
from hooks.rules.engine import Plan, plan, plan_schedule
from hooks.rules.iterations import iteration_info
from hooks.rules.model import Example, Rule, RuleSet
from hooks.rules.reader import (
    IssueInfo,
    MilestoneInfo,
    StaticReader,
    StatusInfo,
    default_statuses,
    find_status,
)

DEFAULT_NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


@dataclass(frozen=True)
class ExampleResult:
    rule: str
    example: str
    problems: list[str]
    planned: list[PlannedAction]

    @property
    def ok(self) -> bool:
        return not self.problems


def _merge(base: Any, patch: Any) -> Any:
    if isinstance(base, dict) and isinstance(patch, dict):
        return {**base, **{k: _merge(base.get(k), v) for k, v in patch.items()}}
    return patch


# Whom commands in examples address: `@hooks-bot health at risk`.
EXAMPLE_BOT = "hooks-bot"


def example_event(example: Example, rule_file: Path) -> tuple[str, dict[str, Any]]:
    """The example's delivery header and payload (fixture + patch, or inline)."""
    assert example.event is not None
    spec = example.event
    payload: dict[str, Any] = {}
    if spec.fixture:
        path = (rule_file.parent / spec.fixture).resolve()
        payload = json.loads(path.read_text(encoding="utf-8"))
    if spec.payload:
        payload = _merge(payload, spec.payload)
    if spec.patch:
        payload = _merge(payload, spec.patch)
    return spec.header, payload


def example_plan(
    rule: Rule, example: Example, rule_file: Path, variables: dict[str, Any] | None = None
) -> Plan:
    """Plan the example against its rule alone, with the GitLab state the example gives."""
    statuses = example_statuses(example)
    issues = [
        IssueInfo.from_rest(i).model_copy(update={"parent": i.get("parent")})
        for i in example.gitlab.issues
    ]
    subject_statuses = {}
    for info, raw in zip(issues, example.gitlab.issues, strict=True):
        if raw.get("status"):
            name = str(raw["status"])
            subject_statuses[info.subject] = find_status(statuses, name) or StatusInfo(name=name)
    reader = StaticReader(
        [MilestoneInfo.from_rest(m) for m in example.gitlab.milestones],
        issues,
        [iteration_info(i) for i in example.gitlab.iterations],
        statuses=statuses,
        subject_statuses=subject_statuses,
        members={int(m["id"]): int(m["access_level"]) for m in example.gitlab.members},
    )
    now = example.now or DEFAULT_NOW
    rule = rule.model_copy(update={"enabled": True})  # examples test a disabled rule's logic too
    if example.event is None:
        scheduled = example.scheduled_at or now
        return plan_schedule(
            rule, scheduled, reader, now=now, today=scheduled.date(), variables=variables
        )
    header, payload = example_event(example, rule_file)
    event = parse_event(header, payload)
    return plan(event, RuleSet([rule], vars=variables or {}), reader, now=now, bot=EXAMPLE_BOT)


def example_statuses(example: Example) -> list[StatusInfo]:
    """The statuses the example's namespace allows: those it lists, else GitLab's five."""
    if example.gitlab.statuses is None:
        return default_statuses()
    return [
        StatusInfo(
            id=str(s.get("id") or f"example-status-{i}"),
            name=str(s["name"]),
            category=s.get("category"),
        )
        for i, s in enumerate(example.gitlab.statuses, start=1)
        if isinstance(s, dict) and s.get("name")
    ]


def _mismatch(expected: dict[str, Any], got: PlannedAction) -> str | None:
    if len(expected) != 1:
        return f"an expectation names one action, not {sorted(expected)}"
    kind, want = next(iter(expected.items()))
    if kind != got.action:
        return f"expected {kind}, planned {got.action}"
    found = KINDS.get(kind)
    if found is None:
        return None
    params = found.typed(got.args)
    if found.matches(want, params, got.text):
        return None
    return f"{kind}: expected {want!r}, planned {found.shown(params, got.text)!r}"


def run_example(
    rule: Rule, example: Example, rule_file: Path, variables: dict[str, Any] | None = None
) -> ExampleResult:
    """Plan one example and compare with what it expects."""
    try:
        result = example_plan(rule, example, rule_file, variables)
    except (OSError, ValueError, EventParseError) as exc:
        return ExampleResult(rule.name, example.name, [f"cannot build the example: {exc}"], [])
    problems = [f"rule error: {t.error}" for t in result.trace if t.error]
    if len(result.actions) != len(example.expect):
        planned = [a.action for a in result.actions]
        reason = next((t.reason for t in result.trace if t.reason), None)
        problems.append(
            f"expected {len(example.expect)} action(s), planned {len(planned)} {planned}"
            + (f"; first failing condition: {reason}" if reason and not planned else "")
        )
    else:
        for index, (want, got) in enumerate(zip(example.expect, result.actions, strict=True)):
            problem = _mismatch(want, got)
            if problem:
                problems.append(f"action {index + 1}: {problem}")
    return ExampleResult(rule.name, example.name, problems, result.actions)


def run_examples(rules: RuleSet) -> list[ExampleResult]:
    """Every example of every rule, in file order."""
    results: list[ExampleResult] = []
    for rule in rules.rules:
        source = Path(rules.sources[rule.name].file) if rule.name in rules.sources else Path(".")
        results.extend(run_example(rule, ex, source, rules.vars) for ex in rule.examples)
    return results
