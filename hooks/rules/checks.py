"""Checks of a valid rule that the model cannot make: its templates and its examples' fixtures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ruamel.yaml.scalarstring import LiteralScalarString

from hooks.actions.registry import KINDS
from hooks.rules import paths, templates
from hooks.rules.errors import RuleError, line_of
from hooks.rules.model import Condition, Rule


def check_templates(
    file: Path, node: Any, rule: Rule, variables: dict[str, Any]
) -> list[RuleError]:
    """Compile every template of the rule now, so mistakes surface in `hooks check`.

    Beyond syntax and scope names, every path a template reads (`issue.title`,
    `event.object_attributes.due_date`, `vars.team`) must exist for the rule's triggers.
    """
    sources: list[tuple[list[Any], str, bool]] = []  # (YAML path, source, is an expression)
    for index, step in enumerate(rule.do):
        kind = step.kind
        sources += [
            (["do", index, kind, *path], source, False)
            for path, source in KINDS[kind].templates(step.value)
        ]
        if step.once and step.once not in ("per_sprint", "per_subject"):
            sources.append((["do", index, "once"], step.once, False))
    conditions: list[tuple[list[Any], Condition]] = [(["if"], rule.if_)] if rule.if_ else []
    while conditions:
        at, cond = conditions.pop(0)
        if cond.expr:
            sources.append(([*at, "expr"], cond.expr, True))
        conditions.extend(([*at, "all", i], c) for i, c in enumerate(cond.all or []))
        conditions.extend(([*at, "any", i], c) for i, c in enumerate(cond.any or []))
        if cond.not_:
            conditions.append(([*at, "not"], cond.not_))
    kinds = paths.rule_kinds(rule.on)
    scope = paths.rule_scope(kinds, rule.for_each is not None, variables)
    errors = []
    for at, source, expression in sources:
        prefix = "expr: " if expression else ""
        try:
            ast = (templates.parse_expression if expression else templates.parse)(source)
        except templates.TemplateError as exc:
            errors.append(RuleError(str(file), line_of(node, at), rule.name, f"{prefix}{exc}"))
            continue
        for template_line, problem in paths.unknown_paths(ast, scope, kinds):
            line = _template_line(node, at, template_line)
            errors.append(RuleError(str(file), line, rule.name, f"{prefix}{problem}"))
    return errors


def _template_line(node: Any, path: list[Any], template_line: int) -> int:
    """The file line of a template's line: inside a `|` block, line by line; else the key's."""
    value = node
    for part in path:
        try:
            value = value[part]
        except (KeyError, IndexError, TypeError):
            return line_of(node, path)
    if isinstance(value, LiteralScalarString):
        return line_of(node, path) + template_line
    return line_of(node, path)


def check_fixtures(file: Path, node: Any, rule: Rule) -> list[RuleError]:
    """Read every example's fixture now, so a wrong path fails `hooks check`, not `hooks test`."""
    errors = []
    for index, example in enumerate(rule.examples):
        if example.event is None or not example.event.fixture:
            continue
        path = file.parent / example.event.fixture
        try:
            payload = json.loads(path.read_text(encoding="utf-8"))
            problem = None if isinstance(payload, dict) else "is not a JSON object"
        except OSError as exc:
            problem = f"cannot be read ({exc.strerror or exc})"
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            problem = f"is not JSON ({exc})"
        if problem:
            line = line_of(node, ["examples", index, "event", "fixture"])
            where = f"{example.event.fixture} (relative to {file.parent})"
            errors.append(
                RuleError(str(file), line, rule.name, f"example fixture {where} {problem}")
            )
    return errors
