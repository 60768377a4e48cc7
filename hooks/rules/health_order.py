"""Automation only lowers health: of several health changes to one subject in one plan,
the lowest is kept (and the comments of the rules that gave way go with theirs)."""

from __future__ import annotations

from hooks.actions.base import PlannedAction
from hooks.actions.health import HealthParams

_HEALTH_ORDER = {"at_risk": 0, "needs_attention": 1, "on_track": 2, None: 3}


def _health(action: PlannedAction) -> str | None:
    return action.args.status if isinstance(action.args, HealthParams) else None


def lowest_health_only(
    actions: list[PlannedAction],
) -> tuple[list[PlannedAction], dict[str, str]]:
    """Of several set_health actions on one subject in one plan, keep the lowest.

    Automation only lowers health: when a new item is both new to the sprint (On Track)
    and blocked (Needs Attention), it goes straight to Needs Attention, one write. The
    comments of the rules whose health change was dropped go too: one change, one
    explanation (the first rule's, among equals). Also returns, per rule that gave way,
    why it did nothing although it matched.
    """
    lowest: dict[str, PlannedAction] = {}
    for a in actions:
        if a.action == "set_health" and a.subject is not None:
            kept = lowest.get(a.subject)
            rank = _HEALTH_ORDER.get(_health(a), 3)
            if kept is None or rank < _HEALTH_ORDER.get(_health(kept), 3):
                lowest[a.subject] = a
    dropped = {
        (a.rule, a.subject)
        for a in actions
        if a.action == "set_health" and a.subject is not None and lowest[a.subject] is not a
    }
    gave_way: dict[str, str] = {}
    for rule, subject in sorted(dropped, key=str):
        kept = lowest[str(subject)]
        gave_way.setdefault(
            rule,
            f"gave way on {subject}: {kept.rule} sets {_health(kept)} "
            "(one health change, one comment)",
        )
    kept_actions = [
        a
        for a in actions
        if (a.rule, a.subject) not in dropped or a.action not in ("set_health", "comment")
    ]
    return kept_actions, gave_way
