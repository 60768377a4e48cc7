"""Each kind's typed parameters keep the stored JSON shape of `params` (ledger, audit,
dashboard, `hooks deliveries --show`), and read it back."""

from __future__ import annotations

from typing import Any

import pytest

from hooks.actions.assign import AssignParams
from hooks.actions.comment import CommentParams
from hooks.actions.health import HealthParams
from hooks.actions.issue import IssueParams
from hooks.actions.iteration import IterationParams
from hooks.actions.labels import LabelParams
from hooks.actions.milestone import MoveParams
from hooks.actions.registry import KINDS

STORED: dict[str, dict[str, Any]] = {
    "add_labels": {"labels": ["rolled-over::1"]},
    "remove_labels": {"labels": ["blocked", "x"]},
    "set_health": {"status": "needs_attention", "mode": None, "sprint": "Sprint 42"},
    "comment": {"internal": True},
    "move_to_milestone": {
        "from_title": "Sprint 42",
        "from_id": 42,
        "milestone_id": 43,
        "milestone_title": "Sprint 43",
    },
    "set_iteration": {"iteration_id": 9, "iteration_title": None},
    "create_issue": {
        "project": "demo/marketing",
        "title": "Release v18.6",
        "labels": ["release"],
        "assignees": ["carol"],
        "milestone_id": None,
        "due_date": "2026-12-09",
        "confidential": False,
        "link": {"link_type": "relates_to"},
    },
    "assign": {"usernames": ["dave"]},
    "close": {},
    "reopen": {},
    "notify": {"to": "team-chat", "subject": None},
    "set_status": {
        "status_id": "gid://gitlab/WorkItems::Statuses::SystemDefined::Status/2",
        "name": "In progress",
        "category": "in_progress",
    },
}


def test_every_kind_has_a_stored_shape_here() -> None:
    assert set(STORED) == set(KINDS)


@pytest.mark.parametrize("kind", sorted(STORED))
def test_stored_params_read_back_to_the_same_json(kind: str) -> None:
    stored = STORED[kind]
    assert KINDS[kind].from_dict(stored).to_dict() == stored
    assert list(KINDS[kind].from_dict(stored).to_dict()) == list(stored)  # key order too


def test_labels_are_stored_as_a_list() -> None:
    assert LabelParams(("a", "b")).to_dict() == {"labels": ["a", "b"]}


def test_clearing_health_is_stored_as_status_none() -> None:
    assert HealthParams(None, "label", None).to_dict() == {
        "status": None,
        "mode": "label",
        "sprint": None,
    }


def test_a_move_to_none_stores_no_from_id() -> None:
    assert MoveParams("Sprint 42", 42, None, None).to_dict() == {
        "from_title": "Sprint 42",
        "milestone_id": None,
        "milestone_title": None,
    }


def test_a_move_from_no_milestone_stores_from_id_none() -> None:
    assert MoveParams(None, None, 43, "Sprint 43").to_dict()["from_id"] is None


def test_an_unlinked_issue_stores_link_none() -> None:
    params = IssueParams("p", "t", (), (), None, None, False, None)
    assert params.to_dict()["link"] is None


def test_an_internal_comment_stores_internal_true() -> None:
    assert CommentParams(True).to_dict() == {"internal": True}


def test_assignees_and_iterations_store_their_own_keys() -> None:
    assert AssignParams(("dave",)).to_dict() == {"usernames": ["dave"]}
    assert IterationParams(3, "C3").to_dict() == {"iteration_id": 3, "iteration_title": "C3"}
