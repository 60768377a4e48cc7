"""`vars:`: `${name}` replaced by its value, and a time zone set there checked where it is set."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ruamel.yaml.comments import CommentedMap

from hooks.rules.errors import RuleError
from hooks.schedules.triggers import zone_problem

VAR = re.compile(r"\$\{(\w+)\}")


def substitute(node: Any, variables: dict[str, Any], missing: list[tuple[str, Any]]) -> Any:
    """Replace ${name} with the value of a `vars:` entry (a whole-string ${name} keeps lists)."""
    if isinstance(node, dict):
        return {k: substitute(v, variables, missing) for k, v in node.items()}
    if isinstance(node, list):
        out: list[Any] = []
        for item in node:
            value = substitute(item, variables, missing)
            whole = isinstance(item, str) and VAR.fullmatch(item.strip())
            if whole and isinstance(value, list):
                out.extend(value)  # a list variable inside a list is spliced in
            else:
                out.append(value)
        return out
    if isinstance(node, str):
        whole = VAR.fullmatch(node.strip())
        if whole and whole.group(1) in variables:
            return variables[whole.group(1)]

        def one(match: re.Match[str]) -> str:
            if match.group(1) not in variables:
                missing.append((match.group(1), node))
                return match.group(0)
            value = variables[match.group(1)]
            return ", ".join(map(str, value)) if isinstance(value, list) else str(value)

        return VAR.sub(one, node)
    return node


def zone_variable(item: Any) -> str | None:
    """The variable a rule's schedule takes its time zone from (`timezone: "${name}"`)."""
    on = item.get("on") if isinstance(item, dict) else None
    schedule = on.get("schedule") if isinstance(on, dict) else None
    zone = schedule.get("timezone") if isinstance(schedule, dict) else None
    whole = VAR.fullmatch(zone.strip()) if isinstance(zone, str) else None
    return whole.group(1) if whole else None


def check_zone_variables(
    documents: list[tuple[Path, Any, list[RuleError]]],
    variables: dict[str, Any],
    typed_at: dict[str, tuple[str, int]],
) -> dict[str, RuleError]:
    """A `vars:` time zone that schedules use, checked once where it is written.

    Checked per rule, one typo in `vars:` would be reported at every scheduled rule and
    never at the line to fix. Returns the broken variables with their one error each.
    """
    users: dict[str, int] = {}
    for _file, data, _ in documents:
        items = data.get("rules") if isinstance(data, CommentedMap) else None
        for item in items if isinstance(items, list) else []:
            name = zone_variable(item)
            if name is not None and name in variables:
                users[name] = users.get(name, 0) + 1
    errors = {}
    for name, count in sorted(users.items()):
        value = variables[name]
        problem = (
            zone_problem(value)
            if isinstance(value, str)
            else f"a time zone is a name like 'Europe/Berlin', not {value!r}"
        )
        if problem:
            file, line = typed_at[name]
            used = f"it is the time zone of {count} scheduled rule(s)"
            errors[name] = RuleError(file, line, None, f"variable '{name}': {problem}; {used}")
    return errors
