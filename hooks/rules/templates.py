"""Jinja2 templates in a sandbox; every value they print from a payload is defused."""

from __future__ import annotations

import difflib
import re
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, meta, nodes
from jinja2.sandbox import SandboxedEnvironment

from hooks.rules.safety import defuse

# What a template may name; `hooks check` refuses anything else.
SCOPE = (
    "event",
    "issue",
    "milestone",
    "release",
    "project",
    "user",
    "now",
    "today",
    "next_milestone",
    "iteration",
    "next_iteration",
    "rule",
    "vars",
    "milestone_issues",
    "open_issues",
    "milestones_of",
    "comment",
    "command",
    "emoji",
    "bot",
    "author_role",
)
# The names through which a template can print what someone wrote in a comment.
COMMENT_TEXT = frozenset({"comment", "command", "event"})


class Trusted(str):
    """Text a filter vouches for; printed as is."""


_USERNAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
_MASS = {"all", "here", "channel", "everyone"}


def mention(username: Any) -> str:
    """`{{ user | mention }}`: an @mention of one real-looking user, never @all or a stray."""
    name = str(username or "").lstrip("@")
    if not _USERNAME.match(name) or name.lower() in _MASS:
        return defuse(f"@{name}") if name else ""
    return Trusted(f"@{name}")


def _finalize(value: Any) -> Any:
    # Runs on every {{ expression }} but not on the rule author's literal text, so the
    # author's own "@team" stays a mention while a payload's "@all" does not.
    if isinstance(value, Trusted):
        return str(value)
    return defuse(value) if isinstance(value, str) else value


ENV = SandboxedEnvironment(undefined=StrictUndefined, finalize=_finalize, autoescape=False)
ENV.filters["mention"] = mention


def pick(keys: Any, mapping: Any, default: Any = None) -> Any:
    """`{{ issue.labels | pick(vars.pmm_by_area, vars.pmm_default) }}`: first key's value."""
    return next((mapping[k] for k in keys or [] if k in (mapping or {})), default)


def labelled(issue: Any, labels: Any) -> bool:
    """`select('labelled', vars.deprioritized_labels)`: issues carrying any of the labels."""
    wanted = [labels] if isinstance(labels, str) else list(labels or [])
    return any(label in (issue or {}).get("labels", []) for label in wanted)


ENV.filters["pick"] = pick
ENV.tests["labelled"] = labelled


class TemplateError(ValueError):
    """A template that does not compile or names something not in scope."""


@lru_cache(maxsize=4096)
def _compiled(source: str) -> Any:
    return ENV.from_string(source)


def check(source: str) -> None:
    """Raise TemplateError for a syntax error or an unknown variable."""
    parse(source)


def parse(source: str) -> nodes.Template:
    """The template's syntax tree; TemplateError for a syntax error or an unknown variable."""
    try:
        ast = ENV.parse(source)
    except TemplateSyntaxError as exc:
        raise TemplateError(
            f"template syntax error on template line {exc.lineno}: {exc.message}"
        ) from None
    unknown = sorted(meta.find_undeclared_variables(ast) - set(SCOPE))
    if unknown:
        name = unknown[0]
        near = difflib.get_close_matches(name, SCOPE, n=1)
        hint = f" (did you mean '{near[0]}'?)" if near else ""
        raise TemplateError(
            f"unknown template variable '{name}'{hint}; in scope: {', '.join(SCOPE)}"
        )
    return ast


@lru_cache(maxsize=4096)
def variables(source: str) -> frozenset[str]:
    """The scope names a template uses (so only those are computed)."""
    return frozenset(meta.find_undeclared_variables(ENV.parse(source)))


def reads_comment(source: str) -> bool:
    """Whether a template can print a comment's text (through `comment`, `command`, `event`)."""
    return bool(variables(source) & COMMENT_TEXT)


def render(source: str, scope: dict[str, Any]) -> str:
    """Render a template; undefined names and attributes raise."""
    return str(_compiled(source).render(scope))


def evaluate(expression: str, scope: dict[str, Any]) -> bool:
    """Evaluate a sandboxed expression (the `expr` condition) to a truth value."""
    return bool(_compiled_expression(expression)(**scope))


@lru_cache(maxsize=1024)
def _compiled_expression(expression: str) -> Any:
    return ENV.compile_expression(expression, undefined_to_none=False)


def check_expression(expression: str) -> None:
    """Raise TemplateError when an `expr` does not parse or names something not in scope."""
    parse_expression(expression)


def parse_expression(expression: str) -> nodes.Template:
    """An `expr` condition's syntax tree (as a template printing it); see `parse`."""
    return parse("{{ " + expression + " }}")


__all__ = [
    "SCOPE",
    "TemplateError",
    "check",
    "check_expression",
    "evaluate",
    "parse",
    "parse_expression",
    "render",
    "variables",
]
