"""Reads rule files and explains every mistake with its file, line, rule and what is allowed."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError

from hooks.rules.checks import check_fixtures, check_templates
from hooks.rules.errors import RuleError, RuleErrors, explain, line_of
from hooks.rules.keys import digest
from hooks.rules.model import Action, Rule, RuleSet, SourceRef
from hooks.rules.variables import check_zone_variables, substitute, zone_variable


def rule_files(path: Path) -> list[Path]:
    """The rule files of a folder (sorted), or the one file given."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise RuleErrors([RuleError(str(path), 0, None, "no such rules file or folder")])
    return sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())


APPROVAL_SETTING = "HOOKS_APPROVAL_PROJECT"
APPROVAL_VARIABLE = "approval_project"


def approval_project(variables: dict[str, Any], setting: str | None = None) -> str | None:
    """Where approval requests go: the setting (given, or read from the environment, since
    `hooks check` reads no other setting), else the rules' `vars: approval_project`."""
    found = setting or os.environ.get(APPROVAL_SETTING) or variables.get(APPROVAL_VARIABLE)
    return str(found).strip() or None if found else None


def content_version(files: Mapping[str, bytes]) -> str:
    """The version of a set of files by content: their relative paths and bytes, in any order."""
    return digest(*sorted((name, hashlib.sha256(data).hexdigest()) for name, data in files.items()))


def folder_version(path: Path) -> str:
    """The content hash of a rules folder (every file under it, fixtures too) or of one file."""
    if path.is_file():
        return content_version({path.name: path.read_bytes()})
    files = {
        p.relative_to(path).as_posix(): p.read_bytes()
        for p in path.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts)
    }
    return content_version(files)


def load_rules(
    path: Path | str,
    *,
    version: str | None = None,
    origin: str = "folder",
    approval_setting: str | None = None,
) -> RuleSet:
    """Load and validate every rule file; raise RuleErrors listing all mistakes.

    `version` names where the files came from (a commit SHA); without it, the folder's
    content hash is the version. `approval_setting` is HOOKS_APPROVAL_PROJECT as the service
    read it (else the environment's).
    """
    ruleset = RuleSet(origin=origin)
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
    zone_errors = check_zone_variables(documents, variables, typed_at)
    errors.extend(zone_errors.values())
    approvals = approval_project(variables, approval_setting)
    for file, data, _ in documents:
        loaded, file_errors = load_document(
            file, data, variables, frozenset(zone_errors), approvals=approvals
        )
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
    ruleset.approval_project = approvals
    ruleset.version = version or folder_version(Path(path))
    return ruleset


def _read(file: Path) -> tuple[Any, list[RuleError]]:
    try:
        return YAML(typ="rt").load(file.read_text(encoding="utf-8")), []
    except MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else 0
        return None, [RuleError(str(file), line, None, f"YAML: {exc.problem}")]
    except (OSError, UnicodeDecodeError) as exc:
        return None, [RuleError(str(file), 0, None, str(exc))]


def load_file(file: Path) -> tuple[list[tuple[Rule, int]], list[RuleError]]:
    """The valid rules of one file (on its own variables) and the errors of the others."""
    data, errors = _read(file)
    if errors:
        return [], errors
    variables = dict(data.get("vars") or {}) if isinstance(data, CommentedMap) else {}
    return load_document(file, data, variables, approvals=approval_project(variables))


def load_document(
    file: Path,
    data: Any,
    variables: dict[str, Any],
    broken_zones: frozenset[str] = frozenset(),
    *,
    approvals: str | None = None,
) -> tuple[list[tuple[Rule, int]], list[RuleError]]:
    """The valid rules of one parsed file with their lines, and the errors of the others.

    `broken_zones`: `vars:` time zones already reported where they are written; the
    schedules that use them are not reported again. `approvals`: the approval project, which
    a rule with `approve_above` needs.
    """
    if data is None:
        return [], []
    if not isinstance(data, CommentedMap) or not ("rules" in data or "vars" in data):
        return [], [RuleError(str(file), 1, None, "a rule file is a mapping with a 'rules' list")]
    extra = [k for k in data if k not in ("rules", "vars")]
    errors = [
        RuleError(
            str(file),
            line_of(data, [k]),
            None,
            f"unknown top-level key '{k}'; allowed: rules, vars",
        )
        for k in extra
    ]
    if "rules" not in data:
        return [], errors
    items = data["rules"]
    if not isinstance(items, CommentedSeq):
        return [], [
            *errors,
            RuleError(str(file), line_of(data, ["rules"]), None, "'rules' must be a list of rules"),
        ]
    loaded = []
    for index, item in enumerate(items):
        line = items.lc.item(index)[0] + 1
        name = item.get("name") if isinstance(item, dict) else None
        missing: list[tuple[str, Any]] = []
        plain = substitute(_plain(item), variables, missing)
        if zone_variable(item) in broken_zones:
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
            errors.extend(explain(file, items, index, name, exc))
            continue
        if rule.enabled_when:
            unknown = [k for k in rule.enabled_when if k not in variables]
            if unknown:
                known = ", ".join(sorted(variables)) or "none defined"
                message = f"enabled_when names unknown variable '{unknown[0]}'; vars: {known}"
                errors.append(RuleError(str(file), line, rule.name, message))
                continue
            if any(variables[k] != v for k, v in rule.enabled_when.items()):
                rule = rule.model_copy(update={"enabled": False})
        template_errors = check_templates(file, item, rule, variables)
        template_errors += check_fixtures(file, item, rule)
        if rule.approve_above is not None and not approvals:
            template_errors.append(
                RuleError(
                    str(file),
                    line_of(item, ["approve_above"]),
                    rule.name,
                    f"approve_above needs an approval project to open requests in: set"
                    f" {APPROVAL_SETTING} or `vars: {{{APPROVAL_VARIABLE}: group/project}}`",
                )
            )
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


# What load_rules raises is caught by its callers, so the errors stay part of its API here.
__all__ = [
    "Action",
    "RuleError",
    "RuleErrors",
    "content_version",
    "folder_version",
    "load_file",
    "load_rules",
    "rule_files",
]
