"""`close` and `reopen`: the subject's state."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from hooks.actions.base import (
    ActionKind,
    Edit,
    Effects,
    Planned,
    PlannedAction,
    Planning,
    Result,
    Satisfied,
    Snapshot,
    apply_edit,
)


@dataclass(frozen=True)
class NoParams:
    def to_dict(self) -> dict[str, Any]:
        return {}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NoParams:
        return cls()


def decide_state(wanted: str, event: str, snap: Snapshot) -> Satisfied | Edit:
    """Satisfied when the subject is in the `wanted` state, else the `state_event` to send."""
    if snap.state == wanted:
        return Satisfied()
    return Edit({"state_event": event})


class _State(ActionKind[NoParams]):
    params_type = NoParams
    wanted: ClassVar[str]
    event: ClassVar[str]

    def step_type(self) -> Any:
        return bool | None

    def plan(self, value: bool, ctx: Planning) -> Planned[NoParams]:
        return Planned(NoParams())

    def perform(
        self, action: PlannedAction, params: NoParams, fx: Effects, resumed: bool
    ) -> Result:
        return apply_edit(decide_state(self.wanted, self.event, fx.snapshot(action)), action, fx)

    def rest_only(self, params: NoParams, health_mode: str) -> bool:
        return True


class Close(_State):
    name = "close"
    wanted = "closed"
    event = "close"


class Reopen(_State):
    name = "reopen"
    wanted = "opened"
    event = "reopen"
