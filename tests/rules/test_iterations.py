"""Iterations in the rule language: the team's cadence, the next iteration, a var switch."""

from __future__ import annotations

import textwrap
from datetime import date
from pathlib import Path

import pytest

from hooks.actions.base import PlanError
from hooks.rules.iterations import iteration_info, next_iteration
from hooks.rules.loader import RuleErrors, load_rules
from hooks.rules.model import IssueQuery
from hooks.rules.reader import IssueInfo, StaticReader
from hooks.rules.subjects import iteration_items


def node(number: int, cadence: int, start: str, due: str, title: str | None = None) -> dict:
    return {
        "id": f"gid://gitlab/Iteration/{number}",
        "title": title,
        "startDate": start,
        "dueDate": due,
        "iterationCadence": {
            "id": f"gid://gitlab/Iterations::Cadence/{cadence}",
            "title": f"Team {cadence}",
        },
    }


A1, A2, A3 = (
    iteration_info(node(1, 1, "2026-11-16", "2026-11-29")),
    iteration_info(node(2, 1, "2026-11-30", "2026-12-13")),
    iteration_info(node(3, 1, "2026-12-14", "2026-12-27")),
)
B1, B2 = (
    iteration_info(node(11, 2, "2026-11-16", "2026-11-29")),
    iteration_info(node(12, 2, "2026-11-30", "2026-12-13")),
)
MONDAY = date(2026, 11, 30)


def test_an_iteration_without_a_title_is_named_by_its_cadence_and_dates() -> None:
    assert A1.title == "Team 1 2026-11-16 – 2026-11-29"
    assert (A1.id, A1.cadence_id) == (1, 1)


def test_the_next_iteration_is_the_next_one_of_the_same_cadence() -> None:
    assert next_iteration([B2, A3, A2, B1, A1], A1) == A2
    assert next_iteration([B2, A3, A2, B1, A1], B1) == B2
    assert next_iteration([A1, B1], A1) is None


def test_the_ended_iteration_is_the_latest_of_the_named_cadence() -> None:
    item = IssueInfo(iid=1, project_path="demo/product", iteration_id=11)
    reader = StaticReader(issues=[item], iterations=[A1, A2, B1, B2])
    query = IssueQuery(iteration="ended", cadence="Team 2")

    items, ended = iteration_items(query, "demo/product", reader, MONDAY)

    assert ended == B1 and [i.subject for i in items] == ["demo/product#1"]


def test_several_cadences_without_a_name_is_a_planning_error_naming_them() -> None:
    reader = StaticReader(iterations=[A1, A2, B1, B2])

    with pytest.raises(PlanError, match=r"several iteration cadences \(Team 1, Team 2\)"):
        iteration_items(IssueQuery(iteration="ended"), "demo/product", reader, MONDAY)


def test_with_tasks_adds_each_items_open_child_tasks_once() -> None:
    parent = IssueInfo(iid=1, project_path="p", iteration_id=1)
    task = IssueInfo(iid=2, project_path="p", type="task", parent="p#1", iteration_id=1)
    done = IssueInfo(iid=3, project_path="p", type="task", parent="p#1", state="closed")
    reader = StaticReader(issues=[parent, task, done], iterations=[A1, A2])

    items, _ = iteration_items(IssueQuery(iteration="ended", with_tasks=True), "p", reader, MONDAY)

    assert [i.subject for i in items] == ["p#1", "p#2"]


def test_a_for_each_names_a_milestone_or_an_iteration_not_both() -> None:
    with pytest.raises(ValueError, match="not both"):
        IssueQuery(milestone="closed", iteration="ended")


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "rules.yaml").write_text(textwrap.dedent(text))
    return tmp_path


RULE = """
    vars: {sprints: iterations}
    rules:
    - name: on-milestones
      enabled_when: {sprints: milestones}
      on: {issue: [open]}
      do: [{add_labels: [x]}]
    - name: on-iterations
      enabled_when: {sprints: iterations}
      on: {issue: [open]}
      do: [{add_labels: [y]}]
    """


def test_enabled_when_switches_a_pack_variant_with_one_var(tmp_path: Path) -> None:
    rules = load_rules(write(tmp_path, RULE))

    assert {r.name: r.enabled for r in rules.rules} == {
        "on-milestones": False,
        "on-iterations": True,
    }


def test_enabled_when_naming_an_unknown_var_is_refused_with_its_line(tmp_path: Path) -> None:
    with pytest.raises(RuleErrors) as caught:
        load_rules(write(tmp_path, RULE.replace("{sprints: milestones}", "{sprint: milestones}")))

    assert "rules.yaml:4: rule 'on-milestones': enabled_when names unknown variable 'sprint'" in (
        str(caught.value)
    )
