"""Rebuilding the webhook event GitLab would have sent from an object's current state.

The REST API gives an issue's or milestone's state now; the event it would have sent for
a change is that state with the event's action, the opener as its user (for `open`), and
the label changes rebuilt from resource label events. No other change is guessed.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hooks.events import MILESTONE_HOOK_FIELDS, IssueEvent, MilestoneEvent, parse_event
from hooks.rules.reader import IssueInfo


def parse_time(value: Any) -> datetime | None:
    """GitLab's REST timestamps ('2026-11-24T10:00:00.123Z') as aware datetimes."""
    if not isinstance(value, str) or not value:
        return None
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def gitlab_time(moment: datetime) -> str:
    """A time as the API takes it, to the millisecond GitLab stores."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def previous_labels(
    current: list[str], events: list[dict[str, Any]], after: datetime, ignore: str | None = None
) -> list[str]:
    """The labels before the label events later than `after`, undone newest first.

    Events by `ignore` (the bot) are not undone: the bot's own changes are no one's change
    to answer, as its own webhooks are not (loop guard).
    """
    labels = list(current)
    later = [
        e
        for e in events
        if (parse_time(e.get("created_at")) or after) > after
        and (ignore is None or (e.get("user") or {}).get("username") != ignore)
    ]
    for e in sorted(
        later, key=lambda e: (e.get("created_at") or "", e.get("id") or 0), reverse=True
    ):
        name = (e.get("label") or {}).get("name")
        if not name:
            continue
        if e.get("action") == "add" and name in labels:
            labels.remove(name)
        elif e.get("action") == "remove" and name not in labels:
            labels.append(name)
    return labels


def issue_event(
    raw: dict[str, Any], info: IssueInfo, action: str, changes: dict[str, Any]
) -> IssueEvent:
    """The issue event GitLab would have sent for this state (the opener as its user)."""
    labels = [{"title": t} for t in info.labels]
    milestone = raw.get("milestone") or {}
    iteration = raw.get("iteration") or {}
    author = raw.get("author") or {}
    header = "Confidential Issue Hook" if info.confidential else "Issue Hook"
    payload = {
        "object_kind": "issue",
        "event_type": "confidential_issue" if info.confidential else "issue",
        "user": author if action == "open" else None,
        "project": {"id": raw.get("project_id"), "path_with_namespace": info.project_path},
        "object_attributes": {
            "id": raw.get("id"),
            "iid": info.iid,
            "title": info.title,
            "description": info.description,
            "state": info.state,
            "action": action,
            "confidential": info.confidential,
            "milestone_id": milestone.get("id"),
            "iteration_id": iteration.get("id"),
            "author_id": author.get("id"),
            "due_date": raw.get("due_date"),
            "created_at": raw.get("created_at"),
            "updated_at": raw.get("updated_at"),
            "closed_at": raw.get("closed_at"),
            "health_status": raw.get("health_status"),
            "url": raw.get("web_url"),
            "labels": labels,
        },
        "labels": labels,
        "assignees": raw.get("assignees") or [],
        "changes": changes,
    }
    event = parse_event(header, payload)
    assert isinstance(event, IssueEvent)
    return event


def milestone_event(raw: dict[str, Any], scope: str, action: str) -> MilestoneEvent:
    """The milestone event GitLab (18.2+) would have sent; `scope` is the path of the
    project or group whose milestones were listed.

    A group milestone's event has no project (GitLab sends `"project": null`).
    """
    attrs = {k: raw.get(k) for k in MILESTONE_HOOK_FIELDS}
    group = raw.get("group_id") is not None and raw.get("project_id") is None
    payload = {
        "object_kind": "milestone",
        "event_type": "milestone",
        "project": None if group else {"id": raw.get("project_id"), "path_with_namespace": scope},
        "group": {"group_id": raw.get("group_id"), "full_path": scope} if group else None,
        "object_attributes": attrs,
        "action": action,
    }
    event = parse_event("Milestone Hook", payload)
    assert isinstance(event, MilestoneEvent)
    return event
