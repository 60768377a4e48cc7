"""`set_status`: the subject's work item status (GitLab 18.2+, Premium), through GraphQL.

The name is resolved at plan time against the statuses the subject's top-level namespace
allows (kept per namespace for `HOOKS_STATUS_CACHE_S`); an unknown name is that rule's
planning error, listing the allowed ones. A status of category done or canceled closes the
item and any other reopens a closed one: GitLab does that, the action only sets the status.
"""

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
)
from hooks.rules.reader import StatusInfo, find_status


@dataclass(frozen=True)
class StatusParams:
    status_id: str | None  # the global id GitLab knows it by
    name: str
    category: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"status_id": self.status_id, "name": self.name, "category": self.category}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StatusParams:
        return cls(data.get("status_id"), data["name"], data.get("category"))


@dataclass(frozen=True)
class SetStatusTo:
    """The GraphQL write of the subject's status."""

    status_id: str
    result: dict[str, Any]


def decide(params: StatusParams, current: StatusInfo | None) -> Satisfied | SetStatusTo:
    """Satisfied when the subject has that status already, else the write to make."""
    result = {"status": params.name, "previous": current.name if current else None}
    if current is not None and (
        (params.status_id is not None and current.id == params.status_id)
        or current.named(params.name)
    ):
        return Satisfied(result)
    if params.status_id is None:
        raise ValueError(f"status {params.name!r} has no id to set it by")
    return SetStatusTo(params.status_id, result)


def resolve(name: str, project: str, allowed: list[StatusInfo]) -> StatusInfo:
    """The allowed status of this name, or the planning error that lists the allowed ones."""
    root = project.split("/", 1)[0]
    if not allowed:
        raise PlanError(
            f"set_status: {root} has no work item statuses"
            " (they need GitLab 18.2 or later, Premium or Ultimate)"
        )
    found = find_status(allowed, name)
    if found is None:
        names = ", ".join(repr(s.name) for s in allowed)
        raise PlanError(f"set_status: unknown status {name!r} in {root}; allowed: {names}")
    return found


class SetStatus(ActionKind[StatusParams]):
    name = "set_status"
    params_type = StatusParams
    step_doc = (
        "A work item status the namespace allows, e.g. 'In progress' (GitLab 18.2+, Premium;"
        " matched case-insensitively); a done or canceled status closes the item."
    )

    def step_type(self) -> Any:
        return str | None

    def plan(self, value: str, ctx: Planning) -> Planned[StatusParams]:
        issue = ctx.facts.issue
        project = issue.project_path if issue is not None else ctx.facts.project
        found = resolve(value, project, ctx.statuses(project))
        return Planned(StatusParams(found.id, found.name, found.category))

    def perform(
        self, action: PlannedAction, params: StatusParams, fx: Effects, resumed: bool
    ) -> Result:
        project, iid = fx.subject(action)
        work_item, current = fx.ops.work_item_status(project, iid)
        if work_item is None:
            return "failed", {"error": f"GitLab knows no work item {project}#{iid}"}
        decision = decide(params, StatusInfo.from_graphql(current) if current else None)
        if isinstance(decision, Satisfied):
            return "satisfied", decision.result
        item = fx.ops.set_work_item_status(work_item, decision.status_id)
        fx.forget(action)  # its state may have changed with the status: read it again
        return "done", {**decision.result, "state": str(item.get("state") or "").lower()}

    def describe(
        self, params: StatusParams, subject: str | None, text: str | None, result: dict[str, Any]
    ) -> str:
        closes = params.category in ("done", "canceled")
        return f"{subject}: status -> {params.name}" + (" (closes it)" if closes else "")

    def matches(self, want: Any, params: StatusParams, text: str | None) -> bool:
        return isinstance(want, str) and want.strip().casefold() == params.name.casefold()

    def shown(self, params: StatusParams, text: str | None) -> str | None:
        return params.name
