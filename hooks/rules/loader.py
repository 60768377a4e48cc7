"""Reads rule files and explains every mistake with its file, line, rule and what is allowed."""

from __future__ import annotations

import difflib
import json
import re
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError
from ruamel.yaml.scalarstring import LiteralScalarString

from hooks.actions.registry import KINDS
from hooks.rules import paths, templates
from hooks.rules.model import Action, Condition, Rule, RuleSet, SourceRef
from hooks.schedules.triggers import zone_problem


@dataclass(frozen=True)
class RuleError:
    file: str
    line: int
    rule: str | None
    message: str

    def __str__(self) -> str:
        where = f"rule '{self.rule}': " if self.rule else ""
        at = f"{self.file}:{self.line}" if self.line else self.file  # 0: the whole file or folder
        return f"{at}: {where}{self.message}"


class RuleErrors(Exception):
    """Every error found in a rules folder, in file and line order."""

    def __init__(self, errors: list[RuleError]) -> None:
        super().__init__("\n".join(str(e) for e in errors))
        self.errors = errors


def rule_files(path: Path) -> list[Path]:
    """The rule files of a folder (sorted), or the one file given."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise RuleErrors([RuleError(str(path), 0, None, "no such rules file or folder")])
    return sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())


def load_rules(path: Path | str) -> RuleSet:
    """Load and validate every rule file; raise RuleErrors listing all mistakes."""
    ruleset = RuleSet()
    errors: list[RuleError] = []
    seen: dict[str, SourceRef] = {}
    files = rule_files(Path(path))
    documents = [(file, *_read(file)) for file in files]
    variables: dict[str, Any] = {}
    typed_at: dict[str, tuple[str, int]] = {}  # where each variable's value is written
    for file, data, read_errors in documents:
        errors.extend(read_errors)
        if isinstance(data, CommentedMap) and isinstance(data.get("vars"), dict):
            for key, value in data["vars"].items():
                if key in variables:
                    line = data["vars"].lc.key(key)[0] + 1
                    errors.append(RuleError(str(file), line, None, f"variable '{key}' set twice"))
                variables[str(key)] = _plain(value)
                typed_at[str(key)] = (str(file), data["vars"].lc.value(key)[0] + 1)
    zone_errors = _check_zone_variables(documents, variables, typed_at)
    errors.extend(zone_errors.values())
    for file, data, _ in documents:
        loaded, file_errors = load_document(file, data, variables, frozenset(zone_errors))
        errors.extend(file_errors)
        for rule, line in loaded:
            if rule.name in seen:
                first = seen[rule.name]
                errors.append(
                    RuleError(
                        str(file),
                        line,
                        rule.name,
                        f"duplicate name; first defined at {first.file}:{first.line}",
                    )
                )
                continue
            seen[rule.name] = SourceRef(str(file), line)
            ruleset.rules.append(rule)
            ruleset.sources[rule.name] = seen[rule.name]
    if errors:
        raise RuleErrors(sorted(errors, key=lambda e: (e.file, e.line)))
    ruleset.vars = variables
    return ruleset


def _zone_variable(item: Any) -> str | None:
    """The variable a rule's schedule takes its time zone from (`timezone: "${name}"`)."""
    on = item.get("on") if isinstance(item, dict) else None
    schedule = on.get("schedule") if isinstance(on, dict) else None
    zone = schedule.get("timezone") if isinstance(schedule, dict) else None
    whole = _VAR.fullmatch(zone.strip()) if isinstance(zone, str) else None
    return whole.group(1) if whole else None


def _check_zone_variables(
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
            name = _zone_variable(item)
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


def _read(file: Path) -> tuple[Any, list[RuleError]]:
    try:
        return YAML(typ="rt").load(file.read_text(encoding="utf-8")), []
    except MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else 0
        return None, [RuleError(str(file), line, None, f"YAML: {exc.problem}")]
    except (OSError, UnicodeDecodeError) as exc:
        return None, [RuleError(str(file), 0, None, str(exc))]


_VAR = re.compile(r"\$\{(\w+)\}")


def _substitute(node: Any, variables: dict[str, Any], missing: list[tuple[str, Any]]) -> Any:
    """Replace ${name} with the value of a `vars:` entry (a whole-string ${name} keeps lists)."""
    if isinstance(node, dict):
        return {k: _substitute(v, variables, missing) for k, v in node.items()}
    if isinstance(node, list):
        out: list[Any] = []
        for item in node:
            value = _substitute(item, variables, missing)
            whole = isinstance(item, str) and _VAR.fullmatch(item.strip())
            if whole and isinstance(value, list):
                out.extend(value)  # a list variable inside a list is spliced in
            else:
                out.append(value)
        return out
    if isinstance(node, str):
        whole = _VAR.fullmatch(node.strip())
        if whole and whole.group(1) in variables:
            return variables[whole.group(1)]

        def one(match: re.Match[str]) -> str:
            if match.group(1) not in variables:
                missing.append((match.group(1), node))
                return match.group(0)
            value = variables[match.group(1)]
            return ", ".join(map(str, value)) if isinstance(value, list) else str(value)

        return _VAR.sub(one, node)
    return node


def load_file(file: Path) -> tuple[list[tuple[Rule, int]], list[RuleError]]:
    """The valid rules of one file (on its own variables) and the errors of the others."""
    data, errors = _read(file)
    if errors:
        return [], errors
    variables = dict(data.get("vars") or {}) if isinstance(data, CommentedMap) else {}
    return load_document(file, data, variables)


def load_document(
    file: Path,
    data: Any,
    variables: dict[str, Any],
    broken_zones: frozenset[str] = frozenset(),
) -> tuple[list[tuple[Rule, int]], list[RuleError]]:
    """The valid rules of one parsed file with their lines, and the errors of the others.

    `broken_zones`: `vars:` time zones already reported where they are written; the
    schedules that use them are not reported again.
    """
    if data is None:
        return [], []
    if not isinstance(data, CommentedMap) or not ("rules" in data or "vars" in data):
        return [], [RuleError(str(file), 1, None, "a rule file is a mapping with a 'rules' list")]
    extra = [k for k in data if k not in ("rules", "vars")]
    errors = [
        RuleError(
            str(file), _line(data, [k]), None, f"unknown top-level key '{k}'; allowed: rules, vars"
        )
        for k in extra
    ]
    if "rules" not in data:
        return [], errors
    items = data["rules"]
    if not isinstance(items, CommentedSeq):
        return [], [
            *errors,
            RuleError(str(file), _line(data, ["rules"]), None, "'rules' must be a list of rules"),
        ]
    loaded = []
    for index, item in enumerate(items):
        line = items.lc.item(index)[0] + 1
        name = item.get("name") if isinstance(item, dict) else None
        missing: list[tuple[str, Any]] = []
        plain = _substitute(_plain(item), variables, missing)
        if _zone_variable(item) in broken_zones:
            del plain["on"]["schedule"]["timezone"]
        if missing:
            unknown = sorted({m[0] for m in missing})
            known = ", ".join(sorted(variables)) or "none defined"
            errors.append(
                RuleError(
                    str(file),
                    line,
                    str(name) if name else None,
                    f"unknown variable ${{{unknown[0]}}}; vars: {known}",
                )
            )
            continue
        try:
            rule = Rule.model_validate(plain)
        except ValidationError as exc:
            errors.extend(_explain(file, items, index, name, exc))
            continue
        template_errors = _check_templates(file, item, rule, variables)
        template_errors += _check_fixtures(file, item, rule)
        if template_errors:
            errors.extend(template_errors)
            continue
        loaded.append((rule, line))
    return loaded, errors


def _plain(node: Any) -> Any:
    if isinstance(node, dict):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node


def _line(node: Any, path: list[Any]) -> int:
    """The 1-based line of the deepest node along `path` that exists."""
    line = getattr(getattr(node, "lc", None), "line", 0) + 1
    for part in path:
        if isinstance(node, CommentedMap) and part in node:
            line = node.lc.key(part)[0] + 1
            node = node[part]
        elif isinstance(node, CommentedSeq) and isinstance(part, int) and part < len(node):
            line = node.lc.item(part)[0] + 1
            node = node[part]
        else:
            break
    return line


def _model_at(model: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model that holds the key at the end of `loc` (walking pydantic's error path)."""
    current: Any = model
    for part in loc[:-1]:
        if isinstance(part, int) or current is None:
            continue
        if isinstance(current, type) and issubclass(current, BaseModel):
            fields = {f.alias or n: f for n, f in current.model_fields.items()}
            if part in fields:
                current = _models_in(fields[part].annotation)
                continue
        if isinstance(current, list):
            current = next(
                (m for m in current if m.__name__ == part), current[0] if current else None
            )
    if isinstance(current, list):
        current = current[0] if current else None
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _models_in(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) in (typing.Union, types.UnionType, list):
        found = [m for a in args for m in _flatten(_models_in(a))]
        return found[0] if len(found) == 1 else found
    return None


def _flatten(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


_UNION_TAGS = ("str", "int", "bool", "list[str]", "literal['clear']")


def _clean(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    # Drop pydantic's union-member tags ('CommentSpec', 'str', ...) from an error path.
    return tuple(
        p for p in loc if not (isinstance(p, str) and (p[:1].isupper() or p in _UNION_TAGS))
    )


def _explain(
    file: Path, items: CommentedSeq, index: int, name: Any, exc: ValidationError
) -> list[RuleError]:
    found = [(_clean(tuple(e["loc"])), e) for e in exc.errors()]
    # When one union member goes deeper (a typo inside a mapping), its error is the useful
    # one; "Input should be a valid list" from the other member is noise.
    kept = [
        (loc, e)
        for loc, e in found
        if not any(len(other) > len(loc) and other[: len(loc)] == loc for other, _ in found)
    ]
    errors = []
    shown: set[tuple[int, str]] = set()
    for loc, error in kept:
        line = _line(items, [index, *loc])
        message = _message(error, loc)
        if (line, message) in shown:
            continue
        shown.add((line, message))
        errors.append(RuleError(str(file), line, str(name) if name else None, message))
    return errors


def _message(error: Any, loc: tuple[Any, ...]) -> str:
    where = ".".join(str(p) for p in loc) or "rule"
    kind = error["type"]
    if kind == "extra_forbidden":
        key = str(loc[-1])
        model = _model_at(Rule, loc)
        allowed = [f.alias or n for n, f in model.model_fields.items()] if model else []
        near = difflib.get_close_matches(key, allowed, n=1)
        hint = f" (did you mean '{near[0]}'?)" if near else ""
        return f"unknown key '{key}'{hint}; allowed: {', '.join(allowed)}"
    if kind == "missing":
        return f"required key '{loc[-1]}' is missing"
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{where}: {message}"


def _check_templates(
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
            errors.append(RuleError(str(file), _line(node, at), rule.name, f"{prefix}{exc}"))
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
            return _line(node, path)
    if isinstance(value, LiteralScalarString):
        return _line(node, path) + template_line
    return _line(node, path)


def _check_fixtures(file: Path, node: Any, rule: Rule) -> list[RuleError]:
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
            line = _line(node, ["examples", index, "event", "fixture"])
            where = f"{example.event.fixture} (relative to {file.parent})"
            errors.append(
                RuleError(str(file), line, rule.name, f"example fixture {where} {problem}")
            )
    return errors


__all__ = ["Action", "RuleError", "RuleErrors", "load_file", "load_rules", "rule_files"]
