"""Pytest fixtures for the GitLab simulator (loaded by tests/conftest.py).

`gitlab_sim` loads the built-in demo; a test module that needs other groups, projects or
milestones overrides `gitlab_seed` with its own seed (format in sim_seed.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import gitlab
import pytest

from hooks.testing.simulator import Simulator, SimulatorThread


@pytest.fixture
def gitlab_seed() -> dict[str, Any] | None:
    """The seed `gitlab_sim` loads: None for the built-in demo."""
    return None


@pytest.fixture
def gitlab_sim(gitlab_seed: dict[str, Any] | None) -> Iterator[Simulator]:
    """A fresh simulator with `gitlab_seed` (the demo by default), running in its own thread."""
    sim = Simulator(gitlab_seed)
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
