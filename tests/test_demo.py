"""`hooks demo` plays every process and says what the bot did."""

from __future__ import annotations

import pytest

from hooks.cli import main


def test_the_demo_shows_each_process_and_the_bots_answer(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from pathlib import Path

    monkeypatch.chdir(Path(__file__).resolve().parents[1])

    assert main(["demo"]) == 0

    out = capsys.readouterr().out
    assert "demo/product#1: health -> needs_attention" in out
    assert (
        'created demo/marketing#5 "Marketing: Refresh the competitive comparison" (assigned @carol'
        in out
    )
    assert '"Release v18.6"' in out
    assert "demo/training#1: assigned @dave" in out
    assert "milestone Sprint 42 -> Sprint 43" in out
    assert '"Sprint retrospective' in out
    assert "could not act" not in out
