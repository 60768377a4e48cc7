"""A recorded plan: the actions and each item's state as stored with an approval request,
what counts as an item changed since, and the request's text rebuilt from it."""

from __future__ import annotations

from typing import Any

from hooks.actions.base import PlannedAction, Snapshot
from hooks.actions.registry import KINDS
from hooks.approvals import wording
from hooks.storage.approvals import ApprovalRow


def snapshot_dict(snap: Snapshot) -> dict[str, Any]:
    """The parts of an item's state whose change since the plan makes the plan stale."""
    return {
        "state": snap.state,
        "milestone_id": snap.milestone_id,
        "labels": sorted(snap.labels),
        "assignees": sorted(snap.assignees),
    }


def changes(before: dict[str, Any], now: dict[str, Any]) -> str | None:
    """What changed on an item since the plan (None: nothing that matters)."""
    said = []
    for name in ("state", "milestone_id", "assignees"):
        if before.get(name) != now.get(name):
            said.append(f"{name} {before.get(name)!r} -> {now.get(name)!r}")
    added = sorted(set(now["labels"]) - set(before.get("labels", [])))
    removed = sorted(set(before.get("labels", [])) - set(now["labels"]))
    if added or removed:
        said.append("labels " + " ".join([*(f"+{x}" for x in added), *(f"-{x}" for x in removed)]))
    return "changed since the plan: " + "; ".join(said) if said else None


def action_from(data: dict[str, Any]) -> PlannedAction:
    kind = KINDS[data["action"]]
    return PlannedAction(
        rule=data["rule"],
        action=data["action"],
        subject=data.get("subject"),
        project=data.get("project"),
        iid=data.get("iid"),
        args=kind.from_dict(data.get("params") or {}),
        text=data.get("text"),
        key=data["key"],
        dry_run=bool(data.get("dry_run")),
    )


def action_data(action: PlannedAction) -> dict[str, Any]:
    return {**action.as_dict(), "project": action.project, "iid": action.iid}


def render_request(row: ApprovalRow, gitlab_url: str) -> tuple[str, str]:
    """The request issue's title and text, from the recorded plan (the same every time)."""
    actions = [action_from(a) for a in row.plan.get("actions", [])]
    body = wording.request_body(
        approval_id=row.id,
        rule=row.rule,
        where=row.plan.get("where", "?"),
        source=row.source,
        approve_above=int(row.plan.get("approve_above", 0)),
        actions=actions,
        expires_at=row.expires_at,
        gitlab_url=gitlab_url,
    )
    return wording.title(row.rule, row.items), body
