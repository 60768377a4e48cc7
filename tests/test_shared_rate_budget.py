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

# One replica's gateway threads spending the budget as fast as it lets them, from when it is told
# (a line on stdin: until when) so that every process has started.
SPENDER = """
import sys, threading, time
from hooks.gitlab.shared_budget import SharedBudget

url = sys.argv[1]
budget = SharedBudget(url, "bot", per_window=int(sys.argv[2]), window_s=1.0)
stamps, lock = [], threading.Lock()
print("ready", flush=True)
until = float(sys.stdin.readline())

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


def spend_together(url: str, processes: int, seconds: float) -> tuple[list[list[float]], int]:
    """When each process took a request, and how many round trips to the row they made."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", SPENDER, url, str(PER_WINDOW)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(processes)
    ]
    for p in procs:
        assert p.stdout is not None and p.stdout.readline() == "ready\n"
    until = time.time() + seconds
    for p in procs:  # every process told before any is waited for
        assert p.stdin is not None
        p.stdin.write(f"{until}\n")
        p.stdin.close()
    outputs = [p.stdout.read().split() for p in procs if p.stdout is not None]
    for p in procs:
        p.wait(timeout=60)
    assert all(p.returncode == 0 for p in procs)
    return [[float(v) for v in out[1:]] for out in outputs], sum(int(out[0]) for out in outputs)


async def test_three_processes_together_take_no_more_than_a_window_allows(
    postgres_url: str,
) -> None:
    await migrated(postgres_url)

    taken, round_trips = await asyncio.to_thread(spend_together, postgres_url, 3, 3.0)

    per_window = Counter(math.floor(t) for stamps in taken for t in stamps)
    assert max(per_window.values()) == PER_WINDOW  # the budget, not the threads, held them
    assert all(stamps for stamps in taken)  # every process had its share
    assert round_trips * 2 <= sum(map(len, taken))  # requests reserved in batches


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


async def test_a_lower_limit_from_gitlab_lowers_what_each_window_grants(postgres_url: str) -> None:
    await migrated(postgres_url)
    budget = SharedBudget(postgres_url, "bot", per_window=100, window_s=2)

    def spend(n: int) -> list[float]:
        stamps = []
        for _ in range(n):
            budget.acquire()
            stamps.append(time.time())
            budget.answered(None)
        return stamps

    try:
        await asyncio.to_thread(budget.acquire)
        budget.answered(read_limits(200, {"RateLimit-Limit": "600"}))  # 20 per 2 s window
        await asyncio.sleep(2 - time.time() % 2)  # a window begins: spend from its start
        stamps = await asyncio.to_thread(spend, 21)
    finally:
        budget.close()

    assert sorted(Counter(math.floor(t / 2) for t in stamps).values()) == [1, 20]


async def test_while_its_database_does_not_answer_a_replica_spends_a_budget_of_its_own() -> None:
    unreachable = "postgresql://postgres@127.0.0.1:9/hooks"  # nothing listens on port 9
    budget = SharedBudget(unreachable, "bot", per_window=600, window_s=60)
    try:
        waits = await asyncio.to_thread(lambda: [budget.acquire() for _ in range(5)])
    finally:
        budget.close()

    assert waits == [0.0] * 5  # sent at once from its own bucket (10 a burst), not held
