"""Pytest fixtures for the GitLab simulator (loaded by tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import gitlab
import pytest

from hooks.testing.simulator import Simulator, SimulatorThread


@pytest.fixture
def gitlab_sim() -> Iterator[Simulator]:
    """A fresh simulator with the built-in demo, running in its own thread."""
    sim = Simulator()
    runner = SimulatorThread(sim)
    runner.start()
    try:
        yield sim
    finally:
        runner.stop()


@pytest.fixture
def gitlab_api(gitlab_sim: Simulator) -> Iterator[gitlab.Gitlab]:
    """python-gitlab pointed at the simulator as the bot user."""
    with gitlab.Gitlab(
        gitlab_sim.url, private_token=gitlab_sim.bot_token, retry_transient_errors=True, timeout=5
    ) as gl:
        yield gl
