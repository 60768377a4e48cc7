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
