"""`add_labels` and `remove_labels`: labels the subject should (not) carry."""

from __future__ import annotations

from abc import abstractmethod
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
class LabelParams:
    labels: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"labels": list(self.labels)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LabelParams:
        return cls(tuple(data.get("labels") or ()))


def decide_add(params: LabelParams, snap: Snapshot) -> Satisfied | Edit:
    """Add the labels the subject lacks; satisfied when it carries them all."""
    missing = [label for label in params.labels if label not in snap.labels]
    if not missing:
        return Satisfied()
    return Edit({"add_labels": ",".join(missing)}, {"added": missing})


def decide_remove(params: LabelParams, snap: Snapshot) -> Satisfied | Edit:
    """Remove the labels the subject carries; satisfied when it carries none of them."""
    present = [label for label in params.labels if label in snap.labels]
    if not present:
        return Satisfied()
    return Edit({"remove_labels": ",".join(present)}, {"removed": present})


class _Labels(ActionKind[LabelParams]):
    params_type = LabelParams
    sign: ClassVar[str]

    def step_type(self) -> Any:
        return list[str] | None

    def plan(self, value: list[str], ctx: Planning) -> Planned[LabelParams]:
        return Planned(LabelParams(tuple(value)))

    @abstractmethod
    def decide(self, params: LabelParams, snap: Snapshot) -> Satisfied | Edit:
        """Which labels to write, if any."""

    def perform(
        self, action: PlannedAction, params: LabelParams, fx: Effects, resumed: bool
    ) -> Result:
        return apply_edit(self.decide(params, fx.snapshot(action)), action, fx)

    def rest_only(self, params: LabelParams, health_mode: str) -> bool:
        return True

    def describe(
        self, params: LabelParams, subject: str | None, text: str | None, result: dict[str, Any]
    ) -> str:
        return f"{subject}: labels {' '.join(self.sign + x for x in params.labels)}"

    def matches(self, want: Any, params: LabelParams, text: str | None) -> bool:
        return list(want) == list(params.labels)


class AddLabels(_Labels):
    name = "add_labels"
    sign = "+"

    def decide(self, params: LabelParams, snap: Snapshot) -> Satisfied | Edit:
        return decide_add(params, snap)


class RemoveLabels(_Labels):
    name = "remove_labels"
    sign = "-"

    def decide(self, params: LabelParams, snap: Snapshot) -> Satisfied | Edit:
        return decide_remove(params, snap)
