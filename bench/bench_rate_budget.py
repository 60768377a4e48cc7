"""Three `hooks serve` replicas rolling 600 items over against a simulator limited to 600
requests/min: one budget shared through PostgreSQL beside the baseline of three budgets of their
own (each replica on its own SQLite file).

`python -m bench.bench_rate_budget --quick` runs the same at 6,000 requests/min (6 s windows,
600 requests each) in a tenth of the time; `--before DIR` adds the baseline run by another
version's code, e.g. `git archive <rev> hooks | tar -x -C DIR` of the commit before the shared
budget (each replica's own bucket, no `RateLimit-*` steering).
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import tempfile
import uuid
from pathlib import Path

import structlog
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from bench.replica_rollover import Figures, roll_over, seed
from bench.report import Row
from hooks.testing.simulator import Simulator, SimulatorThread

REPLICAS = 3
ITEMS = 600
ADMIN_URL = os.environ.get(
    "HOOKS_BENCH_POSTGRES", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)


async def _admin(sql: str) -> None:
    engine = create_async_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(sql))
    finally:
        await engine.dispose()


async def run(shared: bool, window_s: float, source: str | None = None) -> Figures:
    sim = Simulator(seed(REPLICAS, ITEMS))
    name = f"hooks_bench_{uuid.uuid4().hex[:12]}"
    url = ADMIN_URL.rsplit("/", 1)[0].replace("+asyncpg", "") + f"/{name}"
    if shared:
        await _admin(f'CREATE DATABASE "{name}"')
    try:
        with SimulatorThread(sim), tempfile.TemporaryDirectory() as tmp:
            return await roll_over(
                sim,
                Path(tmp),
                replicas=REPLICAS,
                items=ITEMS,
                per_window=600,
                window_s=window_s,
                postgres_url=url if shared else None,
                within_s=20 * window_s,
                source=source,
            )
    finally:
        if shared:
            await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def line(label: str, f: Figures) -> str:
    return (
        f"{label:34}{f.seconds:>8.1f}{f.floor:>8.1f}{f.ratio:>7.2f}{f.refused:>6}"
        f"{f.requests:>7}{f.moved:>6}{f.moved_twice:>6}   {'/'.join(map(str, f.writes_by_replica))}"
    )


def main(quick: bool = False, before: str | None = None) -> list[Row]:
    """Print the shared budget's figures beside independent budgets' (same run)."""
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR))
    window = 6.0 if quick else 60.0
    per_minute = int(600 * 60 / window)
    shared = asyncio.run(run(True, window))
    alone = asyncio.run(run(False, window))
    older = asyncio.run(run(False, window, before)) if before else None
    print(
        f"{REPLICAS} replicas, {ITEMS} items, limit {per_minute}/min ({window:.0f} s windows)"
        f"\n{'':34}{'time s':>8}{'floor':>8}{'ratio':>7}{'429':>6}{'reqs':>7}{'moved':>6}"
        f"{'twice':>6}   PUTs by replica"
    )
    print(line("one budget (PostgreSQL)", shared))
    print(line("a budget each (baseline)", alone))
    if older is not None:
        print(line("a budget each, code in --before", older))
    met = shared.refused == 0 and shared.ratio <= 1.15 and shared.moved == ITEMS
    return [
        Row(
            14,
            f"{REPLICAS} replicas roll over {ITEMS} items, {per_minute} requests/min",
            f"{shared.seconds:.1f} s, {shared.refused} × 429, {shared.moved_twice} twice",
            f"a budget each: {alone.seconds:.1f} s, {alone.refused} × 429",
            f"{shared.ratio:.2f}",
            "0 × 429, <= 1.15 × floor, each once",
            met and shared.moved_twice == 0,
        )
    ]


if __name__ == "__main__":
    args = sys.argv[1:]
    before = args[args.index("--before") + 1] if "--before" in args else None
    main(quick="--quick" in args, before=before)
