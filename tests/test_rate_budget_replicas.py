"""Three `hooks serve` replicas on one PostgreSQL database spend one GitLab rate budget.

The simulator throttles the bot's account as GitLab does (fixed windows, 429 past the limit),
scaled down in time: 20 requests per 1 s window (GitLab's headers say 1,200/min).
"""

from __future__ import annotations

from pathlib import Path

from bench.replica_rollover import roll_over, seed
from hooks.testing.simulator import Simulator, SimulatorThread

ITEMS = 100


async def test_three_replicas_on_postgresql_roll_over_under_the_limit_with_no_429(
    postgres_url: str, tmp_path: Path
) -> None:
    sim = Simulator(seed(3, ITEMS))
    with SimulatorThread(sim):
        figures = await roll_over(
            sim,
            tmp_path,
            replicas=3,
            items=ITEMS,
            per_window=20,
            window_s=1.0,
            postgres_url=postgres_url,
            within_s=120,
        )

    assert figures.refused == 0
    assert figures.moved == ITEMS and figures.moved_twice == 0
    assert all(figures.writes_by_replica)  # each replica moved a sprint's items
