"""`hooks schedule`: each scheduled rule, its next fire times in its zone, its last run."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hooks.service.cli import main
from hooks.storage.runs import RunLedger
from hooks.storage.store import Store

RULES = """\
rules:
- name: retro
  on: {schedule: {monthly: {weekday: wednesday, nth: [2, 4]}, at: "10:00",
                  timezone: Europe/Berlin}}
  do: [{create_issue: {project: demo/marketing, title: Retro}}]
- name: sweep
  on: {schedule: {cron: "0 17 * * 5"}}
  do: [{create_issue: {project: demo/marketing, title: Sweep}}]
"""


@pytest.fixture
def rules_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HOOKS_DATABASE_URL", f"sqlite:///{tmp_path / 'hooks.db'}")
    monkeypatch.setenv("HOOKS_TIMEZONE", "America/New_York")
    folder = tmp_path / "rules"
    folder.mkdir()
    (folder / "rules.yaml").write_text(RULES)
    return folder


def section(out: str, rule: str) -> list[str]:
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(rule))
    end = next((i for i in range(start + 1, len(lines)) if not lines[i][0].isspace()), None)
    return lines[start:end]


def test_each_rule_shows_its_next_three_times_in_its_own_zone(
    rules_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["schedule", "--rules", str(rules_dir)]) == 0
    retro = section(capsys.readouterr().out, "retro")

    assert retro[0] == "retro  (Europe/Berlin)"
    nexts = [line for line in retro if line.strip().startswith("next")]
    assert len(nexts) == 3
    assert all(re.search(r"Wed \d{4}-\d\d-\d\d 10:00 CES?T$", line) for line in nexts)


def test_a_rule_without_a_zone_is_shown_in_the_default_zone(
    rules_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["schedule", "--rules", str(rules_dir), "--count", "2"]) == 0
    sweep = section(capsys.readouterr().out, "sweep")

    assert sweep[0] == "sweep  (America/New_York)"
    assert sum(line.strip().startswith("next  Fri") for line in sweep) == 2


def test_the_last_run_outcome_comes_from_the_ledger(
    rules_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async def record() -> None:
        store = Store.open(f"sqlite:///{tmp_path / 'hooks.db'}")
        await store.migrate()
        ledger, at = RunLedger(store), datetime(2026, 11, 20, 22, 0, tzinfo=UTC)
        await ledger.claim("sweep", at, owner="a", lease=at - at, now=at, late=True)
        await ledger.finish("sweep", at, status="partial", now=at)
        await store.close()

    asyncio.run(record())
    assert main(["schedule", "--rules", str(rules_dir)]) == 0
    out = capsys.readouterr().out

    assert "    last  2026-11-20 17:00 EST partial (late)" in section(out, "sweep")
    assert "    last  never run" in section(out, "retro")
