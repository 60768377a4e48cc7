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
}
