"""Small seeds shared by tests and benchmarks: one project, one current sprint."""

from __future__ import annotations

from typing import Any

# The state-based rule reconciliation tests and benchmarks count: a sprint item starts On Track.
ON_TRACK_RULES = """
rules:
- name: sprint-item-on-track
  on: {issue: [open, update, reopen]}
  if: {state: opened, milestone: {any: true}, labels: {none: ["health::*"]}}
  do: [{set_health: on_track, once: per_sprint}]
"""


def sprint_seed(issues: list[dict[str, Any]]) -> dict[str, Any]:
    """The bot and alice, group `demo` with `demo/product`, the current `Sprint 1`, `issues`.

    Each issue is opened by alice unless it says otherwise (the bot's own are ignored).
    """
    return {
        "users": [
            {"username": "hooks-bot", "token": "sim-token"},
            {"username": "alice", "token": "alice-token"},
        ],
        "groups": [{"path": "demo"}],
        "projects": [{"path": "demo/product"}],
        "milestones": [
            {"group": "demo", "title": "Sprint 1", "start_date": "-3d", "due_date": "+10d"}
        ],
        "issues": [{"project": "demo/product", "author": "alice", **i} for i in issues],
    }


def sprint_pair(ended: str, running: str, **owner: str) -> list[dict[str, Any]]:
    """Two-week milestones of `owner` (group= or project=): `ended` ended yesterday, `running`
    starts today; seed offsets, so they follow the simulator's today."""
    return [
        {**owner, "title": ended, "start_date": "-14d", "due_date": "-1d"},
        {**owner, "title": running, "start_date": "+0d", "due_date": "+13d"},
    ]


def ended_sprint_seed(
    items: int, ended: str = "Sprint 1", running: str = "Sprint 2"
) -> dict[str, Any]:
    """sprint_seed's users, group and project, whose sprint `ended` (yesterday) still holds
    `items` open issues, `Item 0`..., and whose next sprint `running` starts today."""
    return {
        **sprint_seed([{"title": f"Item {n}", "milestone": ended} for n in range(items)]),
        "milestones": sprint_pair(ended, running, group="demo"),
    }
