"""Iterations as the engine knows them: read from GraphQL, each in its team's cadence."""

from __future__ import annotations

from typing import Any

from hooks.rules.reader import MilestoneInfo, Reader


def next_iteration(
    iterations: list[MilestoneInfo], after: MilestoneInfo | None
) -> MilestoneInfo | None:
    """The iteration that follows `after` in its own cadence (not another team's)."""
    if after is None or after.start_date is None:
        return None
    start = after.start_date
    later = [
        i
        for i in iterations
        if i.id != after.id
        and i.cadence_id == after.cadence_id
        and i.start_date is not None
        and i.start_date > start
    ]
    return min(later, key=lambda i: (i.start_date or start, i.id)) if later else None


def iteration_info(node: dict[str, Any]) -> MilestoneInfo:
    """An iteration from GraphQL; one without a title (automatic cadences) is named by dates."""
    cadence = node.get("iterationCadence") or {}
    start, due = node.get("startDate"), node.get("dueDate")
    return MilestoneInfo(
        id=gid_number(node.get("id")) or 0,
        iid=int(node["iid"]) if str(node.get("iid") or "").isdigit() else None,
        title=node.get("title") or f"{cadence.get('title') or 'Iteration'} {start} – {due}",
        state="closed" if node.get("state") == "closed" else "active",
        start_date=start,
        due_date=due,
        web_url=node.get("webUrl"),
        cadence_id=gid_number(cadence.get("id")),
        cadence=cadence.get("title"),
    )


def gid_number(gid: str | None) -> int | None:
    """The number at the end of a global id (`gid://gitlab/Iteration/53` → 53)."""
    tail = str(gid or "").rsplit("/", 1)[-1]
    return int(tail) if tail.isdigit() else None


def iteration_scope(
    sprint: MilestoneInfo | None, reader: Reader, project: str
) -> dict[str, dict[str, Any] | None]:
    """Templates' `iteration` (the one a for_each listed from) and `next_iteration`."""
    if sprint is None:
        return {"iteration": None, "next_iteration": None}
    upcoming = next_iteration(reader.iterations(project), sprint)
    return {
        "iteration": sprint.model_dump(mode="json"),
        "next_iteration": upcoming.model_dump(mode="json") if upcoming else None,
    }
