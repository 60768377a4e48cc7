"""Which rules reconciliation can run on a change rebuilt from GitLab's current state.

State-based conditions (labels, state, health, due dates, milestone, ...) read the current
state, which the API gives. Conditions on what an event changed need the change itself:
label changes are rebuilt from GitLab's resource label events; any other `changed:` field,
or an `expr` that reads `changes`, has no history to rebuild it from, so such a rule is
reported as not reconcilable rather than guessed.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from hooks.rules.conditions import _has
from hooks.rules.model import Condition, Rule

REBUILDABLE = frozenset({"labels"})


def _conditions(cond: Condition | None) -> Iterator[Condition]:
    if cond is None:
        return
    yield cond
    for sub in (cond.all or []) + (cond.any or []):
        yield from _conditions(sub)
    yield from _conditions(cond.not_)


def changes_read(rule: Rule) -> set[str]:
    """The event fields a rule's conditions read the change of ('expr' for an opaque one)."""
    fields: set[str] = set()
    for cond in _conditions(rule.if_):
        if cond.label_added is not None or cond.label_removed is not None:
            fields.add("labels")
        fields.update(cond.changed or [])
        if cond.status_changed is not None:
            fields.add("status")
        if cond.expr and "changes" in cond.expr:
            fields.add("expr")
    return fields


def not_reconcilable(rule: Rule) -> str | None:
    """Why a rule cannot run on a rebuilt change, or None when it can."""
    missing = sorted(changes_read(rule) - REBUILDABLE)
    if not missing:
        return None
    what = ", ".join("an expression reading event changes" if m == "expr" else m for m in missing)
    return (
        f"not reconcilable: depends on what an event changed ({what}),"
        " which GitLab keeps no history of"
    )


def needs_label_history(rule: Rule, labels: Sequence[str]) -> bool:
    """Whether planning this rule on an issue with these labels needs the label changes.

    A label added and still present is among the current labels, so `label_added` can only
    hold when one of its patterns matches them; `label_removed` always needs the history.
    """
    for cond in _conditions(rule.if_):
        if cond.label_removed is not None:
            return True
        if cond.label_added is not None and any(_has(labels, p) for p in cond.label_added):
            return True
    return False
