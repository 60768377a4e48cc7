"""The names a template may use are listed in three places that must agree: what `hooks
check` allows (`templates.SCOPE`), the shape it checks each against (`paths.kind_scope`), and
the values the engine gives (`engine._Planner.scope`). A name added to one and not the others
is either refused by `hooks check` or undefined when a rule runs."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from hooks.rules.engine import _Planner
from hooks.rules.model import Rule, Triggers
from hooks.rules.paths import kind_scope
from hooks.rules.reader import StaticReader
from hooks.rules.templates import SCOPE

KINDS = [name for name in Triggers.model_fields if name != "schedule"] + ["schedule"]


@pytest.mark.parametrize("kind", KINDS)
def test_hooks_check_knows_the_shape_of_every_name_a_template_may_use(kind: str) -> None:
    assert sorted(kind_scope(kind, for_each=False, variables={})) == sorted(SCOPE)


def test_the_engine_gives_a_value_for_every_name_a_template_may_use() -> None:
    rule = Rule.model_validate(
        {"name": "r", "on": {"schedule": {"cron": "0 9 * * 1"}}, "do": [{"add_labels": ["x"]}]}
    )
    planner = _Planner(StaticReader(), datetime(2026, 12, 7, 9, tzinfo=UTC), None, "fp")
    facts = planner.facts(rule, None, "demo/product")

    assert sorted(planner.scope(rule, facts, None)) == sorted(SCOPE)
