"""The rate budget replicas share through PostgreSQL, taken by separate processes."""

from __future__ import annotations

import asyncio
import math
import subprocess
import sys
import time
from collections import Counter

from sqlalchemy import text

from hooks.gitlab.budget import read_limits
from hooks.gitlab.shared_budget import SharedBudget
from hooks.storage.store import Store
from hooks.testing.waiting import eventually

PER_WINDOW = 25

# One replica's gateway threads spending the budget as fast as it lets them, until `until`.
SPENDER = """
import sys, threading, time
from hooks.gitlab.shared_budget import SharedBudget

url, until = sys.argv[1], float(sys.argv[2])
budget = SharedBudget(url, "bot", per_window=int(sys.argv[3]), window_s=1.0)
stamps, lock = [], threading.Lock()

def spend():
    while time.time() < until:
        budget.acquire()
        with lock:
            stamps.append(time.time())
        budget.answered(None)

threads = [threading.Thread(target=spend) for _ in range(4)]
for t in threads:
    t.start()
for t in threads:
    t.join()
budget.close()
print(budget.reservations, *stamps)
"""


async def migrated(url: str) -> None:
    store = Store.open(url)
    try:
        await store.migrate()
    finally:
        await store.close()


def spend_together(url: str, processes: int, seconds: float) -> list[list[float]]:
    until = time.time() + seconds
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", SPENDER, url, str(until), str(PER_WINDOW)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(processes)
    ]
    outputs = [p.communicate(timeout=60)[0].split() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    return [[float(v) for v in out[1:]] for out in outputs]


async def test_three_processes_together_take_no_more_than_a_window_allows(
    postgres_url: str,
) -> None:
    await migrated(postgres_url)

    taken = await asyncio.to_thread(spend_together, postgres_url, 3, 4.0)

    per_window = Counter(math.floor(t) for stamps in taken for t in stamps)
    assert max(per_window.values()) == PER_WINDOW  # the budget, not the threads, held them
    assert all(stamps for stamps in taken)  # every process had its share


async def test_a_hold_one_replica_meets_holds_the_others(postgres_url: str) -> None:
    await migrated(postgres_url)
    first = SharedBudget(postgres_url, "bot", per_window=100, window_s=60)
    second = SharedBudget(postgres_url, "bot", per_window=100, window_s=60)
    store = Store.open(postgres_url)
    try:
        first.acquire()
        first.answered(read_limits(429, {"Retry-After": "2"}))

        async def written() -> bool:
            async with store.engine.connect() as conn:
                held = await conn.scalar(text("SELECT held_until FROM rate_budget"))
            return bool(held and held > time.time() + 1)

        await eventually(written, within_s=5, every_s=0.02)
        waited = await asyncio.to_thread(second.acquire)
    finally:
        first.close()
        second.close()
        await store.close()

    assert waited >= 1.0
