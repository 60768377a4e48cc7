"""The `status` and `status_changed` conditions: pure tests of a work item's status.

Names match case-insensitively, as GitLab matches status names. GitLab's webhooks (through
18.x) carry no status, neither in `object_attributes` nor in `changes`: the subject's status
is read through GraphQL (the reader), and `status_changed` holds only for a payload whose
`changes.status` says what changed (a later GitLab, or a payload made by hand).
"""

from __future__ import annotations

from typing import Any

from hooks.events import IssueEvent
from hooks.rules.model import StatusChangeTest, StatusTest
from hooks.rules.reader import StatusInfo

StatusChange = tuple[str | None, str | None]  # (from, to) names


def _names(value: str | list[str] | None) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def _is(name: str | None, wanted: list[str]) -> bool:
    return name is not None and any(name.casefold() == w.strip().casefold() for w in wanted)


def status_failure(test: StatusTest, status: StatusInfo | None) -> str | None:
    """None when the subject's status passes the test, else why not."""
    if status is None:
        if test.any or test.category:
            return "status: none (no status widget: GitLab Free, or before 18.2)"
        return None
    if test.any and not _is(status.name, test.any):
        return f"status: '{status.name}' is not one of {test.any}"
    if test.none and _is(status.name, test.none):
        return f"status: '{status.name}' is one of {test.none}"
    if test.category and status.category not in test.category:
        return f"status: '{status.name}' is {status.category}, not one of {test.category}"
    return None


def _name(value: Any) -> str | None:
    if isinstance(value, dict):
        value = value.get("name")
    return str(value) if value not in (None, "") else None


def change_of(event: IssueEvent) -> StatusChange | None:
    """(previous, current) status names when the payload's `changes` carries `status`."""
    change = event.changes.get("status")
    if change is None:
        return None
    return _name(change.previous), _name(change.current)


def status_change_failure(test: StatusChangeTest, change: StatusChange | None) -> str | None:
    """None when this event changed the status as the test asks, else why not."""
    if change is None:
        return "status_changed: the event carries no status change (GitLab's webhooks have none)"
    before, after = change
    if before is not None and after is not None and before.casefold() == after.casefold():
        return "status_changed: the status did not change"
    wanted_to, wanted_from = _names(test.to), _names(test.from_)
    if wanted_to and not _is(after, wanted_to):
        return f"status_changed: to {after!r}, not one of {wanted_to}"
    if wanted_from and not _is(before, wanted_from):
        return f"status_changed: from {before!r}, not one of {wanted_from}"
    return None
