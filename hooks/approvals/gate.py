"""What a run may do now under each rule's `limits` and `approve_above`: a pure function.

Counted in items: one item is one subject (an issue) with all of the rule's actions on it, so
a roll-over of 51 issues is 51 items whatever the number of steps per issue, and a limit
never leaves an issue half done (moved but not labelled). An action without a subject (an
issue the rule creates) is an item of its own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from hooks.actions.base import PlannedAction
from hooks.rules.model import Rule


@dataclass(frozen=True)
class Guarded:
    """A rule's guard rails, as the gate needs them."""

    per_run: int | None = None
    per_hour: int | None = None
    approve_above: int | None = None
    dry_run: bool = False  # a shadow rule: it never asks, it says it would

    @classmethod
    def of(cls, rule: Rule) -> Guarded | None:
        limits = rule.limits
        if limits is None and rule.approve_above is None:
            return None
        return cls(
            per_run=limits.per_run if limits else None,
            per_hour=limits.per_hour if limits else None,
            approve_above=rule.approve_above,
            dry_run=rule.dry_run,
        )


@dataclass
class RuleGate:
    """What became of one guarded rule's planned actions."""

    rule: str
    run: list[PlannedAction] = field(default_factory=list)
    held: list[PlannedAction] = field(default_factory=list)  # for a new approval request
    waiting: dict[int, list[str]] = field(default_factory=dict)  # request id -> subjects
    cut: list[str] = field(default_factory=list)  # items left undone by a limit
    reasons: list[str] = field(default_factory=list)

    @property
    def held_items(self) -> list[str]:
        return list(dict.fromkeys(item_of(a) for a in self.held))


@dataclass
class Gate:
    run: list[PlannedAction]
    rules: dict[str, RuleGate]


def item_of(action: PlannedAction) -> str:
    return action.subject or f"{action.action}:{action.key}"


def items(actions: Sequence[PlannedAction]) -> dict[str, list[PlannedAction]]:
    """The actions grouped by item, in plan order."""
    grouped: dict[str, list[PlannedAction]] = {}
    for action in actions:
        grouped.setdefault(item_of(action), []).append(action)
    return grouped


def gate(
    actions: Sequence[PlannedAction],
    guards: Mapping[str, Guarded],
    *,
    finished: set[str],
    awaiting: Mapping[str, int],
    done_last_hour: Mapping[str, int],
    can_ask: bool = True,
) -> Gate:
    """Split a plan into what runs now, what waits for approval and what a limit cuts.

    `finished`: keys the ledger has done (they run, and report "done earlier"); `awaiting`:
    keys an open approval request holds (they do not run again here); `done_last_hour`: items
    each rule wrote to in the last hour; `can_ask`: False in dry-run, where nothing can be
    opened, so a run over `approve_above` is only planned, and says it would ask.
    """
    by_rule: dict[str, list[PlannedAction]] = {}
    for action in actions:
        if action.rule in guards:
            by_rule.setdefault(action.rule, []).append(action)
    decided: dict[str, RuleGate] = {}
    for rule, planned in by_rule.items():
        guard, result = guards[rule], RuleGate(rule)
        decided[rule] = result
        fresh: list[PlannedAction] = []
        for action in planned:
            if action.key in awaiting:
                subjects = result.waiting.setdefault(awaiting[action.key], [])
                if item_of(action) not in subjects:
                    subjects.append(item_of(action))
            elif action.key in finished:
                result.run.append(action)
            else:
                fresh.append(action)
        for request, subjects in result.waiting.items():
            result.reasons.append(f"{len(subjects)} item(s) wait for approval request #{request}")
        grouped = list(items(fresh).items())
        allowed = len(grouped)
        if guard.per_run is not None and allowed > guard.per_run:
            allowed = guard.per_run
            result.reasons.append(f"limits.per_run {guard.per_run}")
        if guard.per_hour is not None:
            left = max(guard.per_hour - done_last_hour.get(rule, 0), 0)
            if allowed > left:
                allowed = left
                result.reasons.append(
                    f"limits.per_hour {guard.per_hour} ({done_last_hour.get(rule, 0)} done"
                    " in the last hour)"
                )
        kept = [a for _, group in grouped[:allowed] for a in group]
        result.cut = [item for item, _ in grouped[allowed:]]
        if result.cut:
            result.reasons.append(f"{len(result.cut)} item(s) left undone")
        count = allowed
        if guard.approve_above is not None and count > guard.approve_above:
            if can_ask and not guard.dry_run:
                result.held = kept
                result.reasons.append(
                    f"{count} items > approve_above {guard.approve_above}: none done,"
                    " approval asked"
                )
                kept = []
            else:
                result.reasons.append(
                    f"{count} items > approve_above {guard.approve_above}: would ask for"
                    " approval (dry-run)"
                )
        result.run.extend(kept)
    allowed_ids = {id(a) for r in decided.values() for a in r.run}
    # In plan order: one subject's actions of several rules keep their order.
    run = [a for a in actions if a.rule not in guards or id(a) in allowed_ids]
    return Gate(run=run, rules=decided)
