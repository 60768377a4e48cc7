"""What the demo and traces say each kind did (from the audit line's stored detail)."""

from __future__ import annotations

from hooks.actions.registry import describe


def test_health_says_the_new_level() -> None:
    detail = {"action": "set_health", "params": {"status": "at_risk", "mode": None, "sprint": None}}
    assert describe(detail, "demo/product#7") == "demo/product#7: health -> at_risk"


def test_labels_say_plus_or_minus_each_label() -> None:
    added = {"action": "add_labels", "params": {"labels": ["a", "b"]}}
    removed = {"action": "remove_labels", "params": {"labels": ["a"]}}
    assert describe(added, "p#1") == "p#1: labels +a +b"
    assert describe(removed, "p#1") == "p#1: labels -a"


def test_a_comment_shows_its_first_line() -> None:
    detail = {"action": "comment", "params": {"internal": False}, "text": "\nHello there.\nMore"}
    assert describe(detail, "p#1") == 'p#1: comment "Hello there."'


def test_a_move_names_both_milestones() -> None:
    params = {"from_title": "S1", "from_id": 1, "milestone_id": 2, "milestone_title": "S2"}
    detail = {"action": "move_to_milestone", "params": params}
    assert describe(detail, "p#1") == "p#1: milestone S1 -> S2"


def test_a_created_issue_names_where_who_and_the_link() -> None:
    params = {
        "project": "demo/marketing",
        "title": "Sister",
        "labels": [],
        "assignees": ["carol"],
        "milestone_id": None,
        "due_date": None,
        "confidential": False,
        "link": {"link_type": "relates_to"},
    }
    result = {"project": "demo/marketing", "iid": 5, "linked": True}
    detail = {"action": "create_issue", "params": params, "result": result}
    assert (
        describe(detail, "demo/product#1")
        == 'created demo/marketing#5 "Sister" (assigned @carol, linked to demo/product#1)'
    )


def test_an_assignment_names_the_people() -> None:
    detail = {"action": "assign", "params": {"usernames": ["dave"]}}
    assert describe(detail, "p#1") == "p#1: assigned @dave"


def test_other_kinds_show_their_params_as_json() -> None:
    assert describe({"action": "close", "params": {}}, "p#1") == "p#1: close {}"


def test_an_iteration_move_names_the_iteration_or_its_id() -> None:
    titled = {"iteration_id": 3, "iteration_title": "Iteration 43"}
    assert describe({"action": "set_iteration", "params": titled}, "p#1") == (
        "p#1: iteration -> Iteration 43"
    )
    untitled = {"action": "set_iteration", "params": {"iteration_id": 3, "iteration_title": None}}
    assert describe(untitled, "p#1") == "p#1: iteration -> 3"


def test_a_status_change_names_the_status_and_says_when_it_closes_the_item() -> None:
    done = {"status_id": None, "name": "Done", "category": "done"}
    doing = {"status_id": None, "name": "In progress", "category": "in_progress"}
    assert describe({"action": "set_status", "params": done}, "p#1") == (
        "p#1: status -> Done (closes it)"
    )
    assert (
        describe({"action": "set_status", "params": doing}, "p#1") == "p#1: status -> In progress"
    )
