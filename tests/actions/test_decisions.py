"""Each action kind's decision against the subject's current state: pure, snapshot in,
change or "satisfied" out."""

from __future__ import annotations

from hooks.actions import assign, health, iteration, labels, milestone, state
from hooks.actions.assign import AssignParams
from hooks.actions.base import Edit, Satisfied, Snapshot
from hooks.actions.health import HealthChange, HealthParams
from hooks.actions.iteration import IterationParams
from hooks.actions.labels import LabelParams
from hooks.actions.milestone import MoveParams

AT_RISK = "health::at risk"
NEEDS_ATTENTION = "health::needs attention"


def test_adding_labels_already_present_is_satisfied() -> None:
    snap = Snapshot(labels={"blocked", "rolled-over::1"})
    assert labels.decide_add(LabelParams(("blocked",)), snap) == Satisfied()


def test_adding_labels_adds_only_the_missing_ones() -> None:
    decision = labels.decide_add(LabelParams(("a", "b", "c")), Snapshot(labels={"b"}))
    assert decision == Edit({"add_labels": "a,c"}, {"added": ["a", "c"]})


def test_removing_labels_none_present_is_satisfied() -> None:
    assert labels.decide_remove(LabelParams(("a",)), Snapshot(labels={"b"})) == Satisfied()


def test_removing_labels_removes_only_the_present_ones() -> None:
    decision = labels.decide_remove(LabelParams(("a", "b")), Snapshot(labels={"b", "c"}))
    assert decision == Edit({"remove_labels": "b"}, {"removed": ["b"]})


def test_health_label_already_set_is_satisfied() -> None:
    snap = Snapshot(labels={AT_RISK}, milestone_title="Sprint 42")
    decision = health.decide(HealthParams("at_risk", None, None), snap, "label")
    assert decision == Satisfied({"status": "at_risk", "milestone": "Sprint 42"})


def test_health_label_replaces_the_stale_health_label() -> None:
    snap = Snapshot(labels={NEEDS_ATTENTION, "blocked"})
    decision = health.decide(HealthParams("at_risk", None, None), snap, "label")
    assert isinstance(decision, HealthChange)
    assert decision.fields == {"add_labels": AT_RISK, "remove_labels": NEEDS_ATTENTION}
    assert not decision.native


def test_clearing_health_removes_every_health_label() -> None:
    snap = Snapshot(labels={NEEDS_ATTENTION, AT_RISK})
    decision = health.decide(HealthParams(None, None, None), snap, "label")
    assert isinstance(decision, HealthChange)
    assert decision.fields == {"remove_labels": f"{NEEDS_ATTENTION},{AT_RISK}"}


def test_native_health_already_at_the_status_is_satisfied() -> None:
    snap = Snapshot(health="on_track")
    decision = health.decide(HealthParams("on_track", "native", None), snap, "label")
    assert isinstance(decision, Satisfied)


def test_native_health_at_another_status_is_written_natively_only() -> None:
    snap = Snapshot(health="on_track")
    decision = health.decide(HealthParams("at_risk", None, None), snap, "native")
    assert isinstance(decision, HealthChange)
    assert decision.native and decision.fields == {}


def test_health_mode_of_the_step_overrides_the_default() -> None:
    snap = Snapshot(labels=set(), health="at_risk")
    decision = health.decide(HealthParams("at_risk", "native", None), snap, "label")
    assert isinstance(decision, Satisfied)  # the label is missing, but the step said native


def test_health_in_both_modes_writes_label_and_native() -> None:
    decision = health.decide(HealthParams("at_risk", "both", None), Snapshot(), "label")
    assert isinstance(decision, HealthChange)
    assert decision.fields == {"add_labels": AT_RISK} and decision.native


def test_moving_to_the_milestone_it_is_in_is_satisfied() -> None:
    params = MoveParams("Sprint 42", 42, 43, "Sprint 43")
    decision = milestone.decide(params, Snapshot(milestone_id=43))
    assert decision == Satisfied({"from": "Sprint 42", "to": "Sprint 43"})


def test_moving_an_item_that_left_the_planned_milestone_is_satisfied_with_a_note() -> None:
    params = MoveParams("Sprint 42", 42, 43, "Sprint 43")
    decision = milestone.decide(params, Snapshot(milestone_id=50))
    assert decision == Satisfied(
        {"from": "Sprint 42", "to": "Sprint 43", "left": "no longer in milestone 42"}
    )


def test_moving_an_item_still_in_the_planned_milestone_edits_its_milestone() -> None:
    params = MoveParams("Sprint 42", 42, 43, "Sprint 43")
    decision = milestone.decide(params, Snapshot(milestone_id=42))
    assert decision == Edit({"milestone_id": 43}, {"from": "Sprint 42", "to": "Sprint 43"})


def test_moving_to_none_clears_the_milestone_with_id_zero() -> None:
    params = MoveParams("Sprint 42", None, None, None)
    decision = milestone.decide(params, Snapshot(milestone_id=77))
    assert isinstance(decision, Edit) and decision.fields == {"milestone_id": 0}


def test_moving_to_none_an_item_without_milestone_is_satisfied() -> None:
    params = MoveParams(None, None, None, None)
    assert isinstance(milestone.decide(params, Snapshot(milestone_id=None)), Satisfied)


def test_setting_the_iteration_it_is_in_is_satisfied() -> None:
    decision = iteration.decide(IterationParams(7, "Cadence 7"), Snapshot(iteration_id=7))
    assert decision == Satisfied()


def test_setting_another_iteration_writes_it() -> None:
    decision = iteration.decide(IterationParams(8, "Cadence 8"), Snapshot(iteration_id=7))
    assert decision == iteration.SetIterationTo(8, {"iteration": "Cadence 8"})


def test_assigning_the_people_already_assigned_is_satisfied() -> None:
    snap = Snapshot(assignees={"dave", "carol"})
    assert assign.decide(AssignParams(("carol", "@dave")), snap) == Satisfied()


def test_assigning_others_assigns_exactly_the_wanted_ones_sorted() -> None:
    decision = assign.decide(AssignParams(("dave", "bob")), Snapshot(assignees={"dave", "x"}))
    assert decision == assign.Reassign(["bob", "dave"])


def test_closing_a_closed_issue_is_satisfied() -> None:
    assert state.decide_state("closed", "close", Snapshot(state="closed")) == Satisfied()


def test_closing_an_open_issue_sends_close() -> None:
    decision = state.decide_state("closed", "close", Snapshot(state="opened"))
    assert decision == Edit({"state_event": "close"})


def test_reopening_an_open_issue_is_satisfied() -> None:
    assert state.decide_state("opened", "reopen", Snapshot(state="opened")) == Satisfied()
