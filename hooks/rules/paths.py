"""What each template name holds for a rule's triggers, and the check of the paths templates read.

`{{ issue.titel }}` names a scope variable that exists, so only the path past it shows the
typo; and `issue` itself is set only when the rule has an issue to look at. The engine's
`scope()` builds these values from the event payload models (hooks/events.py) and the
reader's `IssueInfo` and `MilestoneInfo`; the shapes below mirror it, per trigger kind,
so `hooks check` refuses a path that would raise `UndefinedError` while planning.

Open-ended values are not guessed: a mapping keyed by data (`event.changes.<field>`) takes
any key, `now`, `today` and plain values take any attribute, and a path tested with
`is defined` or given a `| default(...)` is the author's explicit "may be missing".
"""

from __future__ import annotations

import difflib
from typing import Any

from jinja2 import nodes

from hooks.events import (
    EmojiAttributes,
    EmojiEvent,
    IssueEvent,
    MilestoneEvent,
    NoteAttributes,
    NoteEvent,
    ReleaseEvent,
)
from hooks.payload_fields import Project, User
from hooks.rules.model import Triggers
from hooks.rules.reader import IssueInfo, MilestoneInfo
from hooks.rules.shapes import (
    ANY,
    Absent,
    Fields,
    ListOf,
    MapOf,
    Shape,
    merge_all,
    model_shape,
    value_shape,
)

ISSUE_KINDS = ("issue", "confidential_issue", "work_item")
_DICT_METHODS = frozenset(n for n in dir(dict) if not n.startswith("_"))
_LIST_METHODS = frozenset(n for n in dir(list) if not n.startswith("_"))
# Filters that keep the items of a list as they are (so a loop over them knows their fields).
_SAME_ITEMS = frozenset(
    {"select", "reject", "selectattr", "rejectattr", "list", "sort", "unique", "reverse"}
)
_MAY_BE_MISSING_FILTERS = frozenset({"default", "d"})
_MAY_BE_MISSING_TESTS = frozenset({"defined", "undefined"})


_ISSUE = model_shape(IssueInfo)
_MILESTONE = model_shape(MilestoneInfo)
_EVENTS: dict[str, Shape] = {
    **dict.fromkeys(ISSUE_KINDS, model_shape(IssueEvent)),
    "release": model_shape(ReleaseEvent),
    "milestone": model_shape(MilestoneEvent),
    "note": model_shape(NoteEvent),
    "emoji": model_shape(EmojiEvent),
    "schedule": Absent("is empty for schedule triggers (there is no event)"),
}
_ISSUE_WHEN = (
    "is set only for issue, confidential_issue and work_item triggers and for_each subjects"
)
_MILESTONE_WHEN = "is set only for issue and milestone triggers and for_each subjects"


_COMMENT = Fields({**model_shape(NoteAttributes).fields, "author": model_shape(User)}, True)
_COMMAND = Fields(dict.fromkeys(("text", "name", "args", "reason", "too_long", "length"), ANY))


def _said(kind: str) -> dict[str, Shape]:
    """`comment`, `command`, `emoji` and `bot`, set by note and emoji triggers."""
    return {
        "comment": _COMMENT
        if kind in ("note", "emoji")
        else Absent("is set only for note and emoji triggers"),
        "command": _COMMAND if kind == "note" else Absent("is set only for note triggers"),
        "emoji": model_shape(EmojiAttributes)
        if kind == "emoji"
        else Absent("is set only for emoji triggers"),
        "bot": ANY,
        "author_role": ANY,
    }


def kind_scope(kind: str, for_each: bool, variables: dict[str, Any]) -> dict[str, Shape]:
    """Every scope name's shape when a rule runs for one trigger kind (engine `scope()`)."""
    issue_event = kind in ISSUE_KINDS or kind in ("note", "emoji")
    has_subject = issue_event or for_each
    return {
        **_said(kind),
        "event": _EVENTS[kind],
        "issue": _ISSUE if has_subject else Absent(_ISSUE_WHEN),
        "milestone": _MILESTONE if has_subject or kind == "milestone" else Absent(_MILESTONE_WHEN),
        "release": model_shape(ReleaseEvent)
        if kind == "release"
        else Absent("is set only for release triggers"),
        "project": Fields({"path_with_namespace": ANY})
        if kind == "schedule"
        else model_shape(Project),
        "user": model_shape(User)
        if issue_event
        else Absent(
            "is set only for issue, confidential_issue and work_item triggers"
            " (GitLab sends no user with release and milestone events)"
        ),
        "now": ANY,
        "today": ANY,
        "next_milestone": _MILESTONE,
        "iteration": _MILESTONE,  # the one a for_each listed the items of (else null)
        "next_iteration": _MILESTONE,
        "rule": Fields({"name": ANY, "description": ANY}),
        "vars": value_shape(variables),
        "milestone_issues": ListOf(_ISSUE),
        "open_issues": ANY,
        "milestones_of": ANY,
    }


def rule_kinds(on: Triggers) -> list[str]:
    """The trigger kinds a rule runs on, in the order of the model."""
    return [name for name in type(on).model_fields if getattr(on, name)]


def rule_scope(kinds: list[str], for_each: bool, variables: dict[str, Any]) -> dict[str, Shape]:
    """Every scope name's shape across all of a rule's triggers."""
    scopes = [kind_scope(kind, for_each, variables) for kind in kinds]
    return {name: merge_all([s[name] for s in scopes]) for name in scopes[0]}


# Functions in scope, by what their calls return.
_RETURNS: dict[str, Shape] = {"open_issues": ListOf(_ISSUE), "milestones_of": ListOf(_MILESTONE)}


def unknown_paths(
    ast: nodes.Template, scope: dict[str, Shape], kinds: list[str]
) -> list[tuple[int, str]]:
    """(template line, what is wrong) for every path the template reads that cannot exist."""
    checker = _Checker(kinds, _may_be_missing(ast))
    env = {**scope, **dict.fromkeys(_assigned_names(ast), ANY)}
    checker.visit(ast, env)
    return checker.problems


def _dotted(node: nodes.Node) -> str | None:
    if isinstance(node, nodes.Name):
        return node.name
    if isinstance(node, nodes.Getattr):
        parent = _dotted(node.node)
        return f"{parent}.{node.attr}" if parent else None
    if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
        parent = _dotted(node.node)
        return f"{parent}[{node.arg.value!r}]" if parent else None
    return None


def _may_be_missing(ast: nodes.Template) -> frozenset[str]:
    """Paths the template itself treats as optional (`is defined`, `| default(...)`)."""
    found = set()
    for node in ast.find_all((nodes.Filter, nodes.Test)):
        names = _MAY_BE_MISSING_FILTERS if isinstance(node, nodes.Filter) else _MAY_BE_MISSING_TESTS
        if node.name in names and node.node is not None:
            path = _dotted(node.node)
            if path:
                found.add(path)
    return frozenset(found)


def _assigned_names(ast: nodes.Template) -> set[str]:
    """Names the template sets itself ({% set %}, macro arguments): their shape is unknown.

    Loop variables are not among them: a loop binds its target to the items it walks.
    """
    loop_targets = {
        id(name) for loop in ast.find_all(nodes.For) for name in loop.target.find_all(nodes.Name)
    }
    loop_targets |= {id(loop.target) for loop in ast.find_all(nodes.For)}
    return {
        name.name
        for name in ast.find_all(nodes.Name)
        if name.ctx in ("store", "param") and id(name) not in loop_targets
    }


def _nearest(name: str, known: list[str]) -> list[str]:
    """The known field closest to a misspelt one: by similarity, else by a shared prefix."""
    near = difflib.get_close_matches(name, known, n=1)
    if near or not name:
        return near
    prefixed = [k for k in known if k.startswith(name) or name.startswith(k)]
    return sorted(prefixed, key=lambda k: abs(len(k) - len(name)))[:1]


class _Checker:
    def __init__(self, kinds: list[str], may_be_missing: frozenset[str]) -> None:
        self.kinds = kinds
        self.may_be_missing = may_be_missing
        self.problems: list[tuple[int, str]] = []

    def visit(self, node: nodes.Node, env: dict[str, Shape]) -> None:
        if isinstance(node, nodes.Expr):
            self.shape(node, env)
        elif isinstance(node, nodes.For):
            self.loop(node, env)
        else:
            for child in node.iter_child_nodes():
                self.visit(child, env)

    def loop(self, node: nodes.For, env: dict[str, Shape]) -> None:
        items = self.shape(node.iter, env)
        item = items.item if isinstance(items, ListOf) else ANY
        names = [node.target] if isinstance(node.target, nodes.Name) else []
        inner = {**env, "loop": ANY}
        inner.update(dict.fromkeys((n.name for n in node.target.find_all(nodes.Name)), ANY))
        inner.update({n.name: item for n in names})
        for child in [*node.body, *([node.test] if node.test else [])]:
            self.visit(child, inner)
        for child in node.else_:
            self.visit(child, env)

    def shape(self, node: nodes.Node, env: dict[str, Shape]) -> Shape:
        if isinstance(node, nodes.Name):
            return env.get(node.name, ANY) if node.ctx == "load" else ANY
        if isinstance(node, nodes.Getattr):
            return self.member(node, self.shape(node.node, env), node.attr)
        if isinstance(node, nodes.Getitem):
            return self.item(node, env)
        if isinstance(node, nodes.Filter | nodes.Test):
            return self.filtered(node, env)
        if isinstance(node, nodes.Call):
            self.arguments(node, env)
            callee = node.node
            if isinstance(callee, nodes.Name) and callee.name in _RETURNS:
                return _RETURNS[callee.name]
            self.shape(callee, env)
            return ANY
        for child in node.iter_child_nodes():
            self.visit(child, env)
        return ANY

    def arguments(
        self, node: nodes.Call | nodes.Filter | nodes.Test, env: dict[str, Shape]
    ) -> None:
        for arg in [*node.args, *node.kwargs]:
            self.visit(arg, env)
        for extra in (node.dyn_args, node.dyn_kwargs):
            if extra is not None:
                self.visit(extra, env)

    def filtered(self, node: nodes.Filter | nodes.Test, env: dict[str, Shape]) -> Shape:
        self.arguments(node, env)
        if node.node is None:
            return ANY
        inner = self.shape(node.node, env)
        if isinstance(node, nodes.Test):
            return ANY
        if node.name in _SAME_ITEMS and isinstance(inner, ListOf):
            return inner
        if node.name in ("first", "last") and isinstance(inner, ListOf):
            return inner.item
        return ANY

    def item(self, node: nodes.Getitem, env: dict[str, Shape]) -> Shape:
        container = self.shape(node.node, env)
        key = node.arg
        if isinstance(key, nodes.Const) and isinstance(key.value, str):
            return self.member(node, container, key.value)
        self.visit(key, env)
        if isinstance(key, nodes.Slice):
            return container if isinstance(container, ListOf) else ANY
        if isinstance(container, ListOf):
            return container.item
        if isinstance(container, MapOf):
            return container.value
        return ANY

    def member(self, node: nodes.Getattr | nodes.Getitem, container: Shape, name: str) -> Shape:
        """The shape of `container.name`, recording a problem when it cannot exist."""
        path = _dotted(node)
        parent = _dotted(node.node)
        if path is None or parent is None or path in self.may_be_missing:
            return ANY
        by_attribute = isinstance(node, nodes.Getattr)
        if isinstance(container, Absent):
            runs_on = ", ".join(self.kinds)
            self.problem(
                node,
                f"template field '{path}': '{parent}' {container.reason};"
                f" this rule runs on {runs_on}",
            )
            return ANY
        if isinstance(container, MapOf):
            return container.value
        if isinstance(container, ListOf):
            if by_attribute and name not in _LIST_METHODS:
                self.problem(node, f"template field '{path}': '{parent}' is a list")
            return ANY
        if not isinstance(container, Fields):
            return ANY
        if name in container.fields:
            return container.fields[name]
        if by_attribute and name in _DICT_METHODS:
            return ANY
        known = sorted(container.fields)
        near = _nearest(name, known)
        if near:
            nearest = f"{parent}.{near[0]}" if by_attribute else f"{parent}[{near[0]!r}]"
        hint = f" (did you mean '{nearest}'?)" if near else ""
        unmodelled = (
            f"; for a field GitLab sends beyond these: {path} | default(...)"
            if container.payload
            else ""
        )
        self.problem(
            node,
            f"unknown template field '{path}'{hint}; {parent} has: {', '.join(known)}{unmodelled}",
        )
        return ANY

    def problem(self, node: nodes.Node, message: str) -> None:
        entry = (node.lineno, message)
        if entry not in self.problems:
            self.problems.append(entry)


__all__ = ["Shape", "kind_scope", "rule_kinds", "rule_scope", "unknown_paths"]
