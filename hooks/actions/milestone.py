"""`move_to_milestone`: the subject to the next sprint, to a milestone by title, or to none."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hooks.actions.base import (
    ActionKind,
    Edit,
    Effects,
    PlanError,
    Planned,
    PlannedAction,
    Planning,
    Result,
    Satisfied,
    Snapshot,
    apply_edit,
)
from hooks.rules.reader import by_title, current_milestone, next_milestone


@dataclass(frozen=True)
class MoveParams:
    """A move from the milestone the plan saw (`from_*`) to `milestone_id` (None: none)."""

    from_title: str | None
    from_id: int | None
    milestone_id: int | None
    milestone_title: str | None

    def to_dict(self) -> dict[str, Any]:
        if self.milestone_id is None:  # to none: any milestone it is in, not only the seen one
            return {"from_title": self.from_title, "milestone_id": None, "milestone_title": None}
        return {
            "from_title": self.from_title,
            "from_id": self.from_id,
            "milestone_id": self.milestone_id,
            "milestone_title": self.milestone_title,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MoveParams:
        return cls(
            data.get("from_title"),
            data.get("from_id"),
            data.get("milestone_id"),
            data.get("milestone_title"),
        )


def decide(params: MoveParams, snap: Snapshot) -> Satisfied | Edit:
    """Move unless it is there already, or left the milestone the move was planned from."""
    target = params.milestone_id
    result: dict[str, Any] = {"from": params.from_title, "to": params.milestone_title}
    if snap.milestone_id == target:
        return Satisfied(result)
    source = params.from_id
    if source is not None and snap.milestone_id != source:
        # Moved by someone else since it was planned: it is no longer in the sprint the
        # plan was about, so there is nothing to roll over.
        return Satisfied({**result, "left": f"no longer in milestone {source}"})
    return Edit({"milestone_id": target if target is not None else 0}, result)


class MoveToMilestone(ActionKind[MoveParams]):
    name = "move_to_milestone"
    params_type = MoveParams
    step_doc = "'next', 'none' or a title."

    def step_type(self) -> Any:
        return str | None

    def plan(self, value: str, ctx: Planning) -> Planned[MoveParams]:
        where, facts = str(value), ctx.facts
        current = facts.milestone
        from_title = current.title if current else None
        if where == "none":
            return Planned(MoveParams(from_title, None, None, None))
        milestones = facts.milestones
        if where == "next":
            after = current or current_milestone(milestones, ctx.today)
            target = next_milestone(milestones, after, ctx.today)
            if target is None:
                after_what = f"'{after.title}'" if after else str(ctx.today)
                raise PlanError(f"no milestone after {after_what} in {facts.project} to move to")
        else:
            target = by_title(milestones, where)
            if target is None:
                raise PlanError(f"no milestone titled {where!r} in {facts.project}")
        from_id = current.id if current else None
        return Planned(MoveParams(from_title, from_id, target.id, target.title))

    def perform(
        self, action: PlannedAction, params: MoveParams, fx: Effects, resumed: bool
    ) -> Result:
        return apply_edit(decide(params, fx.snapshot(action)), action, fx)

    def rest_only(self, params: MoveParams, health_mode: str) -> bool:
        return True

    def describe(
        self, params: MoveParams, subject: str | None, text: str | None, result: dict[str, Any]
    ) -> str:
        return f"{subject}: milestone {params.from_title} -> {params.milestone_title}"

    def matches(self, want: Any, params: MoveParams, text: str | None) -> bool:
        return (None if want == "none" else want) == params.milestone_title
