"""`hooks reconcile [--since TIME]` from the command line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from hooks.service.cli import main
from hooks.service.config import Settings
from hooks.testing.seeds import ON_TRACK_RULES, sprint_seed
from hooks.testing.simulator import Simulator, SimulatorThread


@pytest.fixture(autouse=True)
def _unconfigured_logging() -> Iterator[None]:
    yield
    structlog.reset_defaults()


@pytest.fixture
def sim(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Simulator]:
    """A simulator with one watched hook, and the command's environment pointing at it."""
    sim = Simulator(sprint_seed([{"title": "In the sprint", "milestone": "Sprint 1"}]))
    with SimulatorThread(sim):
        hook_id = sim.add_hook("http://127.0.0.1:9/webhook", "s", project="demo/product")
        for name in Settings.model_fields:
            monkeypatch.delenv(f"HOOKS_{name.upper()}", raising=False)
        monkeypatch.chdir(tmp_path)
        (tmp_path / "rules").mkdir()
        (tmp_path / "rules" / "r.yaml").write_text(ON_TRACK_RULES)
        monkeypatch.setenv("HOOKS_GITLAB_URL", sim.url)
        monkeypatch.setenv("HOOKS_GITLAB_TOKEN", sim.bot_token)
        monkeypatch.setenv("HOOKS_RULES_DIR", str(tmp_path / "rules"))
        monkeypatch.setenv("HOOKS_WATCHED_HOOKS", f"demo/product:{hook_id}")
        yield sim


def test_reconcile_prints_what_it_did_and_a_second_run_does_nothing(
    sim: Simulator, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["reconcile", "--since", "2020-01-01T00:00Z"]) == 0
    first = capsys.readouterr().out
    assert first.startswith("demo/product: 2 applied, 0 skipped (covered)")  # issue + sprint
    assert "health::on track" in sim.issue("demo/product", 1)["labels"]
    assert main(["reconcile", "--since", "2020-01-01T00:00Z", "--json"]) == 0
    [again] = json.loads(capsys.readouterr().out)
    assert again["applied"] == 0 and again["skipped"] == 2 and again["finished"] is True


def test_a_since_that_is_not_a_time_is_refused(
    sim: Simulator, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["reconcile", "--since", "yesterday"])
    assert exit_.value.code == 2
    assert "'yesterday' is not an ISO 8601 time" in capsys.readouterr().err
    assert sim.recorded() == []


def test_without_a_token_it_says_what_is_missing(
    sim: Simulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("HOOKS_GITLAB_TOKEN")
    assert main(["reconcile"]) == 1
    assert "set HOOKS_GITLAB_TOKEN" in capsys.readouterr().err
