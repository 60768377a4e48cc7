"""`hooks check` on the guard-rail keys: `approve_above` needs an approval project; `limits`
are positive counts."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from hooks.service.cli import main

GUARDED = """
rules:
- name: big-relabel
  on: {milestone: [close]}
  for_each: {issues: {project: demo/product, milestone: closed}}
  approve_above: 20
  limits: {per_run: 100, per_hour: 300}
  do: [{add_labels: [x]}]
"""


def check(
    tmp_path: Path, text: str, capsys: pytest.CaptureFixture[str], vars_: str = ""
) -> tuple[int, str]:
    (tmp_path / "rules.yaml").write_text(vars_ + textwrap.dedent(text).lstrip())
    status = main(["check", str(tmp_path)])
    captured = capsys.readouterr()
    return status, captured.err + captured.out


@pytest.fixture(autouse=True)
def no_approval_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HOOKS_APPROVAL_PROJECT", raising=False)


def test_approve_above_without_an_approval_project_is_refused_at_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out = check(tmp_path, GUARDED, capsys)

    assert status == 1
    assert (
        "rules.yaml:5: rule 'big-relabel': approve_above needs an approval project to open"
        " requests in: set HOOKS_APPROVAL_PROJECT or `vars: {approval_project: group/project}`"
        in out
    )


def test_the_approval_project_may_come_from_vars(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out = check(tmp_path, GUARDED, capsys, vars_="vars: {approval_project: demo/ops}\n")

    assert (status, out.strip()) == (0, "1 rules in 1 file(s) OK")


def test_the_approval_project_may_come_from_the_setting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOOKS_APPROVAL_PROJECT", "42")

    status, out = check(tmp_path, GUARDED, capsys)

    assert (status, out.strip()) == (0, "1 rules in 1 file(s) OK")


def test_a_limit_of_zero_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out = check(
        tmp_path,
        """
        rules:
        - name: no-room
          on: {issue: [open]}
          limits: {per_run: 0}
          do: [{add_labels: [x]}]
        """,
        capsys,
    )

    assert status == 1
    assert (
        "rules.yaml:4: rule 'no-room': limits.per_run: Input should be greater than or equal to 1"
        in out
    )


def test_the_shipped_pack_configures_its_approval_project() -> None:
    from hooks.rules.loader import load_rules

    rules = load_rules(Path(__file__).resolve().parents[2] / "rules")

    assert rules.approval_project == "demo/marketing"
    assert rules.by_name("roll-over-first-time").approve_above == 50
