"""`assign`: exactly these people assigned to the subject."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hooks.actions.base import (
    ActionKind,
    Effects,
    Planned,
    PlannedAction,
    Planning,
    Result,
    Satisfied,
    Snapshot,
)


@dataclass(frozen=True)
class AssignParams:
    usernames: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"usernames": list(self.usernames)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AssignParams:
        return cls(tuple(data.get("usernames") or ()))


@dataclass(frozen=True)
class Reassign:
    """Assign exactly these usernames (sorted); their ids are looked up when carried out."""

    usernames: list[str]


def decide(params: AssignParams, snap: Snapshot) -> Satisfied | Reassign:
    """Satisfied when exactly these people are assigned already."""
    wanted = {u.lstrip("@") for u in params.usernames}
    if snap.assignees == wanted:
        return Satisfied()
    return Reassign(sorted(wanted))


class Assign(ActionKind[AssignParams]):
    name = "assign"
    params_type = AssignParams
    step_doc = "Usernames to assign."

    def step_type(self) -> Any:
        return list[str] | None

    def plan(self, value: list[str], ctx: Planning) -> Planned[AssignParams]:
        return Planned(AssignParams(tuple(u.lstrip("@") for u in value or [])))

    def perform(
        self, action: PlannedAction, params: AssignParams, fx: Effects, resumed: bool
    ) -> Result:
        decision = decide(params, fx.snapshot(action))
        if isinstance(decision, Satisfied):
            return "satisfied", decision.result
        fx.edit(action, assignee_ids=fx.user_ids(decision.usernames))
        return "done", {"assignees": decision.usernames}

    def rest_only(self, params: AssignParams, health_mode: str) -> bool:
        return True

    def describe(
        self, params: AssignParams, subject: str | None, text: str | None, result: dict[str, Any]
    ) -> str:
        return f"{subject}: assigned {', '.join('@' + u for u in params.usernames)}"

    def matches(self, want: Any, params: AssignParams, text: str | None) -> bool:
        return [u.lstrip("@") for u in want] == list(params.usernames)
