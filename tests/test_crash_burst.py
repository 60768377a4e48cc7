"""`hooks serve` SIGKILLed at seeded-random points of a burst, against a slow GitLab, restarted
each time: every delivery is processed, each comment and created issue exists once.

The kill points are counts of the bot's writes GitLab has answered, drawn from a seed that
every failure message names (set CRASH_SEED to replay one). The simulator holds each write's
answer back after making the change, so kills land between a write and its record too.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
from collections import Counter
from pathlib import Path

import pytest

from hooks.testing.serve_process import ServeProcess
from hooks.testing.sim_faults import Fault
from hooks.testing.simulator import Simulator, SimulatorThread
from hooks.testing.waiting import eventually
from tests.burst import (
    ITEMS,
    SISTERS,
    Burst,
    comments_per_issue,
    found_by_marker,
    held_by,
    issues_titled,
    processed_once,
    seed,
    serve_env,
)
from tests.test_serve_process import wait_all_finished

RULES = f"""
rules:
- name: sister-issue-for-new-item
  on: {{issue: [open]}}
  do:
    - create_issue:
        project: {SISTERS}
        title: "Sister of {{{{ issue.title }}}}"
        description: "Opened for {{{{ issue.web_url }}}}."
        link: relates_to
    - comment: "A sister issue was opened in {SISTERS}."
"""
WRITES_PER_DELIVERY = 3  # the issue, its link, the comment


def bot_writes(sim: Simulator) -> int:
    return len(sim.recorded("POST", "hooks-bot"))


def kill_points(rng: random.Random, kills: int, total_writes: int) -> list[int]:
    """One point in each of `kills` equal slices of 3%..90% of the writes to come."""
    low, high = 0.03 * total_writes, 0.9 * total_writes
    width = (high - low) / kills
    return [int(low + width * (i + rng.random())) for i in range(kills)]


async def crash_through_a_burst(tmp_path: Path, count: int, kills: int, crash_seed: int) -> None:
    print(f"CRASH_SEED={crash_seed}: {count} deliveries, {kills} kills")
    context = f"CRASH_SEED={crash_seed}"
    sim = Simulator(seed(count))
    # Every write of the bot is slow, and half of that after GitLab has made the change.
    sim.faults.add(
        Fault(user="hooks-bot", method="POST", latency_s=0.01, jitter_s=0.04, after_s=0.02)
    )
    points = kill_points(random.Random(crash_seed), kills, count * WRITES_PER_DELIVERY)
    database_url = f"sqlite:///{tmp_path / 'hooks.db'}"
    with SimulatorThread(sim):
        env = serve_env(sim, database_url, RULES, tmp_path, HOOKS_WORKER_CONCURRENCY="8")
        log = tmp_path / "serve.log"
        current = ServeProcess(env, log)
        interrupted: list[list[int]] = []

        async def kill_and_restart() -> None:
            nonlocal current
            await current.ready()
            for point in points:
                await eventually(lambda p=point: bot_writes(sim) >= p, within_s=120)
                current.stop(signal.SIGKILL)
                interrupted.append(await held_by(database_url, current.proc.pid))
                current = ServeProcess(env, log)
                await current.ready()

        burst = Burst(sim, count)
        try:
            killer = asyncio.create_task(kill_and_restart())
            await burst.send_all(lambda _n: [current.url], within_s=120)
            await killer
            await (await wait_all_finished(database_url, within_s=120)).close()
        finally:
            current.stop(signal.SIGTERM)

    print(
        f"{context}: kill points {points}, deliveries held at each kill {[len(i) for i in interrupted]}"
    )
    assert len(burst.acknowledged) == count, context
    attempts = await processed_once(database_url, list(burst.acknowledged.values()))
    assert all(interrupted), f"{context}: a kill hit no unfinished delivery"
    for held in interrupted:
        assert all(attempts[i] >= 2 for i in held), context
    print(
        f"{context}: attempts {sorted(Counter(attempts.values()).items())}, "
        f"effects found made by a killed attempt {await found_by_marker(database_url)}"
    )

    assert set(comments_per_issue(sim, count).values()) == {1}, context
    sisters = issues_titled(sim, SISTERS)
    assert sisters == {f"Sister of Item {n}": 1 for n in range(1, count + 1)}, context
    assert {len(sim.links(ITEMS, n)) for n in range(1, count + 1)} == {1}, context


async def test_five_sigkills_at_random_points_of_500_deliveries_lose_none_and_repeat_no_effect(
    tmp_path: Path,
) -> None:
    await crash_through_a_burst(
        tmp_path, count=500, kills=5, crash_seed=int(os.environ.get("CRASH_SEED", "11"))
    )


@pytest.mark.soak
@pytest.mark.parametrize("round_", range(1, 6))
async def test_soak_the_same_with_a_new_random_seed_each_round(tmp_path: Path, round_: int) -> None:
    crash_seed = int(os.environ.get("CRASH_SEED") or random.SystemRandom().randrange(2**32))
    await crash_through_a_burst(tmp_path, count=500, kills=5, crash_seed=crash_seed)
