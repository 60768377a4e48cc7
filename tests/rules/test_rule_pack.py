"""The shipped rules: they load, their examples pass, the schema file is current."""

from __future__ import annotations

import json
from pathlib import Path

from hooks.rules.cli import schema
from hooks.rules.examples import run_examples
from hooks.rules.loader import load_rules, rule_files
from hooks.service.cli import main

RULES = Path(__file__).resolve().parents[2] / "rules"


def test_every_shipped_rule_carries_examples_and_they_pass() -> None:
    rules = load_rules(RULES)

    results = run_examples(rules)

    assert [r.name for r in rules.rules if not r.examples] == []
    assert [(r.rule, r.example, r.problems) for r in results if not r.ok] == []


def test_hooks_test_passes_on_the_shipped_rules(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["test", str(RULES)]) == 0
    assert "0 failed" in capsys.readouterr().out


def test_the_committed_schema_is_the_one_hooks_schema_prints() -> None:
    assert json.loads((RULES / "schema.json").read_text()) == schema()


def test_every_rule_file_names_the_schema_for_editors() -> None:
    for file in rule_files(RULES):
        assert file.read_text().startswith("# yaml-language-server: $schema=./schema.json"), file


def test_hooks_check_passes_on_the_shipped_rules(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["check", str(RULES)]) == 0
    assert capsys.readouterr().out.endswith("file(s) OK\n")
