"""What counts as an item changed since its approval request was opened (pure)."""

from __future__ import annotations

from hooks.actions.base import Snapshot
from hooks.approvals.plans import changes, snapshot_dict

PLANNED = snapshot_dict(Snapshot(labels={"b", "a"}, milestone_id=42, state="opened"))


def now(**fields: object) -> dict[str, object]:
    base = {"labels": {"a", "b"}, "milestone_id": 42, "state": "opened"}
    return snapshot_dict(Snapshot(**{**base, **fields}))  # type: ignore[arg-type]


def test_an_item_as_planned_has_not_changed() -> None:
    assert changes(PLANNED, now()) is None


def test_an_edit_the_plan_does_not_depend_on_is_no_change() -> None:
    assert changes(PLANNED, now(health="at_risk", updated_at="2026-12-05T10:00:00Z")) is None


def test_a_closed_or_moved_item_has_changed_and_says_how() -> None:
    assert changes(PLANNED, now(state="closed", milestone_id=44)) == (
        "changed since the plan: state 'opened' -> 'closed'; milestone_id 42 -> 44"
    )


def test_labels_added_and_removed_are_named() -> None:
    assert changes(PLANNED, now(labels={"a", "deprioritized"})) == (
        "changed since the plan: labels +deprioritized -b"
    )


def test_a_new_assignee_is_a_change() -> None:
    assert changes(PLANNED, now(assignees={"carol"})) == (
        "changed since the plan: assignees [] -> ['carol']"
    )
