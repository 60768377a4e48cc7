"""The words of the rules language that more than one module needs."""

from __future__ import annotations

from typing import Literal

HealthStatus = Literal["on_track", "needs_attention", "at_risk"]

# Scoped labels are the portable form of health status (native needs GitLab Ultimate).
HEALTH_LABELS: dict[str, str] = {
    "on_track": "health::on track",
    "needs_attention": "health::needs attention",
    "at_risk": "health::at risk",
}

# Webhook actions each trigger accepts, as GitLab names them in object_attributes.action.
TRIGGER_ACTIONS: dict[str, tuple[str, ...]] = {
    "issue": ("open", "close", "reopen", "update"),
    "confidential_issue": ("open", "close", "reopen", "update"),
    "work_item": ("open", "close", "reopen", "update"),
    "release": ("create", "update", "delete"),
    "milestone": ("create", "close", "reopen"),
    "note": ("create", "update"),
    "emoji": ("award", "revoke"),
}

# A member's role in a project (doc/api/members.md), by the name rules use for it.
AccessRole = Literal["guest", "planner", "reporter", "developer", "maintainer", "owner"]
ACCESS_LEVELS: dict[str, int] = {
    "guest": 10,
    "planner": 15,
    "reporter": 20,
    "developer": 30,
    "maintainer": 40,
    "owner": 50,
}


def role_name(level: int | None) -> str:
    """The role a numeric access level grants ('not a member' for none)."""
    if level is None or level <= 0:
        return "not a member"
    named = [name for name, value in ACCESS_LEVELS.items() if value <= level]
    return named[-1] if named else "minimal access"
