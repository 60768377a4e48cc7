"""`set_health`: the subject's health status, as scoped labels and/or GitLab's native field."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field

from hooks.actions.base import (
    ActionKind,
    Effects,
    Planned,
    PlannedAction,
    Planning,
    Result,
    Satisfied,
    Snapshot,
    SpecModel,
)
from hooks.rules.vocabulary import HEALTH_LABELS, HealthStatus

HealthMode = Literal["label", "native", "both"]


class HealthSpec(SpecModel):
    status: HealthStatus | Literal["clear"]
    mode: Literal["label", "native", "both"] | None = Field(
        None, description="Default: HOOKS_HEALTH_STATUS_MODE."
    )


@dataclass(frozen=True)
class HealthParams:
    status: str | None  # None: clear it
    mode: str | None  # None: the executor's HOOKS_HEALTH_STATUS_MODE
    sprint: str | None  # the sprint the item is in when planned: the dashboard's health chart

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "mode": self.mode, "sprint": self.sprint}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HealthParams:
        return cls(data.get("status"), data.get("mode"), data.get("sprint"))


@dataclass(frozen=True)
class HealthChange:
    """A PUT of the health labels (`fields`, when any) and/or the native status."""

    fields: dict[str, Any]
    native: bool
    result: dict[str, Any]


def decide(params: HealthParams, snap: Snapshot, default_mode: str) -> Satisfied | HealthChange:
    """Which health label to add, which stale ones to drop, whether the native field moves."""
    status = params.status
    mode = params.mode or default_mode
    fields: dict[str, Any] = {}
    if mode in ("label", "both"):
        target = HEALTH_LABELS.get(status) if status else None
        stale = [lbl for lbl in HEALTH_LABELS.values() if lbl in snap.labels and lbl != target]
        if target and target not in snap.labels:
            fields["add_labels"] = target
        if stale:
            fields["remove_labels"] = ",".join(stale)
    native = mode in ("native", "both") and snap.health != status
    result = {"status": status, "milestone": snap.milestone_title}
    if not fields and not native:
        return Satisfied(result)
    return HealthChange(fields, native, result)


class SetHealth(ActionKind[HealthParams]):
    name = "set_health"
    params_type = HealthParams

    def step_type(self) -> Any:
        return HealthStatus | Literal["clear"] | HealthSpec | None

    def plan(self, value: str | HealthSpec, ctx: Planning) -> Planned[HealthParams]:
        health = value if isinstance(value, HealthSpec) else HealthSpec(status=value)
        status = None if health.status == "clear" else health.status
        milestone = ctx.facts.milestone_if_read()  # known without another GitLab read
        sprint = milestone.title or None if milestone else None
        return Planned(HealthParams(status, health.mode, sprint))

    def perform(
        self, action: PlannedAction, params: HealthParams, fx: Effects, resumed: bool
    ) -> Result:
        snap = fx.snapshot(action)
        decision = decide(params, snap, fx.health_mode)
        if isinstance(decision, Satisfied):
            return "satisfied", decision.result
        if decision.fields:
            fx.edit(action, **decision.fields)
        if decision.native:
            project, iid = fx.subject(action)
            fx.ops.set_health_native(project, iid, params.status)
            snap.health = params.status
        return "done", decision.result

    def rest_only(self, params: HealthParams, health_mode: str) -> bool:
        return (params.mode or health_mode) == "label"

    def describe(
        self, params: HealthParams, subject: str | None, text: str | None, result: dict[str, Any]
    ) -> str:
        return f"{subject}: health -> {params.status}"

    def matches(self, want: Any, params: HealthParams, text: str | None) -> bool:
        return (None if want == "clear" else want) == params.status
