"""The gate between a plan and the executor (`limits`, `approve_above`): a pure function of
the planned actions, the rules' guard rails and what the ledger already holds."""

from __future__ import annotations

from hooks.actions.base import PlannedAction
from hooks.actions.labels import LabelParams
from hooks.approvals.gate import Guarded, gate


def planned(rule: str, iid: int, step: int = 0) -> PlannedAction:
    return PlannedAction(
        rule=rule,
        action="add_labels",
        subject=f"demo/product#{iid}",
        project="demo/product",
        iid=iid,
        args=LabelParams((f"step-{step}",)),
        text=None,
        key=f"{rule}.{step}.{iid}",
        dry_run=False,
    )


def roll_over(items: int, rule: str = "roll") -> list[PlannedAction]:
    """Two steps per item, as a rule with two actions plans them."""
    return [planned(rule, iid, step) for iid in range(1, items + 1) for step in (0, 1)]


def decide(
    actions: list[PlannedAction],
    guard: Guarded,
    *,
    finished: set[str] | None = None,
    awaiting: dict[str, int] | None = None,
    done_last_hour: int = 0,
    can_ask: bool = True,
):  # type: ignore[no-untyped-def]
    return gate(
        actions,
        {"roll": guard},
        finished=finished or set(),
        awaiting=awaiting or {},
        done_last_hour={"roll": done_last_hour},
        can_ask=can_ask,
    )


def test_a_run_over_approve_above_runs_none_of_its_items_and_holds_all() -> None:
    result = decide(roll_over(51), Guarded(approve_above=50))

    assert result.run == []
    assert len(result.rules["roll"].held_items) == 51
    assert result.rules["roll"].reasons == [
        "51 items > approve_above 50: none done, approval asked"
    ]


def test_items_not_actions_are_counted() -> None:
    result = decide(roll_over(50), Guarded(approve_above=50))

    assert len(result.run) == 100 and result.rules["roll"].held == []


def test_per_run_cuts_whole_items_and_names_those_left_undone() -> None:
    result = decide(roll_over(5), Guarded(per_run=3))

    assert {a.iid for a in result.run} == {1, 2, 3}
    assert len(result.run) == 6  # both steps of each item kept
    assert result.rules["roll"].cut == ["demo/product#4", "demo/product#5"]
    assert result.rules["roll"].reasons == ["limits.per_run 3", "2 item(s) left undone"]


def test_per_hour_counts_the_items_already_written_this_hour() -> None:
    result = decide(roll_over(5), Guarded(per_hour=10), done_last_hour=8)

    assert {a.iid for a in result.run} == {1, 2}
    assert len(result.rules["roll"].cut) == 3
    assert "limits.per_hour 10 (8 done in the last hour)" in result.rules["roll"].reasons


def test_a_spent_hourly_budget_leaves_everything_undone() -> None:
    result = decide(roll_over(2), Guarded(per_hour=4), done_last_hour=9)

    assert result.run == [] and len(result.rules["roll"].cut) == 2


def test_limits_apply_before_the_approval_threshold() -> None:
    result = decide(roll_over(80), Guarded(per_run=40, approve_above=50))

    assert len(result.run) == 80 and len(result.rules["roll"].cut) == 40
    assert result.rules["roll"].held == []


def test_actions_already_done_run_again_only_to_report_and_are_not_counted() -> None:
    actions = roll_over(51)
    finished = {a.key for a in actions if a.iid and a.iid <= 10}

    result = decide(actions, Guarded(approve_above=50), finished=finished)

    # 41 items are new: under the threshold, so they run with the 10 already done.
    assert len(result.run) == 102 and result.rules["roll"].held == []


def test_actions_an_open_request_holds_neither_run_nor_ask_again() -> None:
    actions = roll_over(51)

    result = decide(actions, Guarded(approve_above=50), awaiting={a.key: 7 for a in actions})

    assert result.run == [] and result.rules["roll"].held == []
    assert len(result.rules["roll"].waiting[7]) == 51
    assert result.rules["roll"].reasons == ["51 item(s) wait for approval request #7"]


def test_in_dry_run_a_big_run_is_planned_and_says_it_would_ask() -> None:
    result = decide(roll_over(51), Guarded(approve_above=50), can_ask=False)

    assert len(result.run) == 102
    assert result.rules["roll"].reasons == [
        "51 items > approve_above 50: would ask for approval (dry-run)"
    ]


def test_unguarded_rules_pass_untouched_and_the_plan_keeps_its_order() -> None:
    mixed = [planned("other", 1), *roll_over(2), planned("other", 2)]

    result = gate(
        mixed, {"roll": Guarded(per_run=1)}, finished=set(), awaiting={}, done_last_hour={}
    )

    assert [a.key for a in result.run] == ["other.0.1", "roll.0.1", "roll.1.1", "other.0.2"]


def test_a_shadow_rule_never_asks_it_says_it_would() -> None:
    result = decide(roll_over(51), Guarded(approve_above=50, dry_run=True))

    assert len(result.run) == 102 and result.rules["roll"].held == []
    assert "would ask for approval (dry-run)" in result.rules["roll"].reasons[0]
