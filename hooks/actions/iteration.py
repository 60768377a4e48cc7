"""`set_iteration`: the subject to the next iteration (cadence) or one by id."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hooks.actions.base import (
    ActionKind,
    Effects,
    PlanError,
    Planned,
    PlannedAction,
    Planning,
    Result,
    Satisfied,
    Snapshot,
)
from hooks.rules.iterations import next_iteration


@dataclass(frozen=True)
class IterationParams:
    iteration_id: int
    iteration_title: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"iteration_id": self.iteration_id, "iteration_title": self.iteration_title}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> IterationParams:
        return cls(data["iteration_id"], data.get("iteration_title"))


@dataclass(frozen=True)
class SetIterationTo:
    """The GraphQL write of the subject's iteration."""

    iteration_id: int
    result: dict[str, Any]


def decide(params: IterationParams, snap: Snapshot) -> Satisfied | SetIterationTo:
    """Satisfied when the subject is in that iteration already."""
    if snap.iteration_id is not None and str(snap.iteration_id) == str(params.iteration_id):
        return Satisfied()
    return SetIterationTo(params.iteration_id, {"iteration": params.iteration_title})


class SetIteration(ActionKind[IterationParams]):
    name = "set_iteration"
    params_type = IterationParams
    step_doc = (
        "'next' (the iteration after the one a for_each listed the subject from, in the same"
        " cadence; else the next to start) or an iteration id."
    )

    def step_type(self) -> Any:
        return str | int | None

    def plan(self, value: str | int, ctx: Planning) -> Planned[IterationParams]:
        if isinstance(value, int) or value.isdigit():
            return Planned(IterationParams(int(value), None))
        project = ctx.facts.project
        seen = ctx.iterations(project)
        sprint = ctx.facts.sprint_iteration
        if sprint is not None:
            found = next_iteration(seen, sprint)
            if found is None:
                raise PlanError(
                    f"no iteration after {sprint.title} in cadence {sprint.cadence or '?'}"
                )
            return Planned(IterationParams(found.id, found.title))
        upcoming = sorted(
            (i for i in seen if i.start_date and i.start_date > ctx.today),
            key=lambda i: (i.start_date or ctx.today, i.id),
        )
        cadences = sorted({str(i.cadence) for i in upcoming if i.cadence_id is not None})
        if len(cadences) > 1:
            raise PlanError(
                f"{project} sees several iteration cadences ({', '.join(cadences)}): which"
                " 'next' is meant is known only for items a for_each listed from an iteration"
            )
        if not upcoming:
            raise PlanError(f"no upcoming iteration in {project}")
        return Planned(IterationParams(upcoming[0].id, upcoming[0].title))

    def perform(
        self, action: PlannedAction, params: IterationParams, fx: Effects, resumed: bool
    ) -> Result:
        decision = decide(params, fx.snapshot(action))
        if isinstance(decision, Satisfied):
            return "satisfied", decision.result
        project, iid = fx.subject(action)
        fx.ops.set_iteration(project, iid, decision.iteration_id)
        return "done", decision.result

    def describe(
        self, params: IterationParams, subject: str | None, text: str | None, result: dict[str, Any]
    ) -> str:
        return f"{subject}: iteration -> {params.iteration_title or params.iteration_id}"

    def matches(self, want: Any, params: IterationParams, text: str | None) -> bool:
        return want in (params.iteration_id, params.iteration_title)
