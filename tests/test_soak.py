"""Soak: `hooks serve` under a steady stream of deliveries for a long time (issue 11, "Soak").

Runs only with `make soak` (marker `soak`). HOOKS_SOAK_SECONDS sets the duration (default
30 minutes), HOOKS_SOAK_RATE the deliveries per second (default 20). The service's resident
memory is sampled from /proc; after a warm-up it must grow by less than 10%, no delivery may
be refused, fail or log an error, and the queue must be empty soon after the load stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest

from hooks.processing.worker import utcnow
from hooks.storage.store import Store
from hooks.testing.serve_process import ServeProcess
from hooks.testing.simulator import Simulator, SimulatorThread
from hooks.testing.waiting import NotInTime, eventually
from tests.burst import ITEMS, issue_opened, seed, serve_env
from tests.conftest import SECRET
from tests.e2e import marked_notes

DURATION_S = float(os.environ.get("HOOKS_SOAK_SECONDS", "1800"))
RATE = float(os.environ.get("HOOKS_SOAK_RATE", "20"))
ISSUES = 200
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
IN_FLIGHT = 64  # the load generator's bound: it never holds more requests open than this

# Each delivery is a new title for one of the issues, so each one is real work: a plan,
# one comment on GitLab, its ledger rows and audit trail.
RULES = """
rules:
- name: soak-comment
  on: {issue: [open]}
  do: [{comment: "Seen: {{ issue.title }}"}]
"""


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for process {pid}")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def queue_depth(session: aiohttp.ClientSession, url: str) -> dict[str, float]:
    async with session.get(url + "/metrics") as response:
        text = await response.text()
    depth = {}
    for line in text.splitlines():
        if line.startswith("hooks_queue_depth{"):
            status = line.split('status="', 1)[1].split('"', 1)[0]
            depth[status] = float(line.rsplit(" ", 1)[1])
    return depth


@pytest.mark.soak
@pytest.mark.timeout(DURATION_S + 600)
async def test_a_steady_stream_for_half_an_hour_keeps_memory_flat_and_leaves_no_backlog(
    tmp_path: Path,
) -> None:
    warm_up_s = min(120.0, DURATION_S / 4)
    sim = Simulator(seed(ISSUES))
    bodies = {n: json.loads(issue_opened(sim, n)) for n in range(1, ISSUES + 1)}
    database_url = f"sqlite:///{tmp_path / 'hooks.db'}"
    latencies: list[float] = []
    failures: list[str] = []
    samples: list[tuple[float, int, float]] = []  # (seconds in, RSS KiB, pending)
    with SimulatorThread(sim):
        env = serve_env(sim, database_url, RULES, tmp_path, HOOKS_SUBJECT_HOURLY_CAP="1000000")
        serve = ServeProcess(env, tmp_path / "serve.log")
        slots = asyncio.Semaphore(IN_FLIGHT)
        try:
            await serve.ready()

            async def deliver(session: aiohttp.ClientSession, n: int) -> None:
                payload = bodies[n % ISSUES + 1]
                # A new change each time (GitLab's updated_at moves on): new action keys.
                payload["object_attributes"].update(
                    title=f"Item {n}", updated_at=(EPOCH + timedelta(seconds=n)).isoformat()
                )
                headers = {
                    "X-Gitlab-Event": "Issue Hook",
                    "X-Gitlab-Token": SECRET,
                    "Idempotency-Key": str(uuid.uuid4()),
                }
                started = time.perf_counter()
                try:
                    async with session.post(
                        serve.url + "/webhook", data=json.dumps(payload), headers=headers
                    ) as response:
                        if response.status != 202:
                            failures.append(f"{n}: {response.status} {await response.text()}")
                except (TimeoutError, aiohttp.ClientError) as exc:
                    failures.append(f"{n}: {type(exc).__name__}")
                finally:
                    latencies.append(time.perf_counter() - started)
                    slots.release()

            async def sample(session: aiohttp.ClientSession, began: float) -> None:
                while True:
                    depth = await queue_depth(session, serve.url)
                    samples.append(
                        (time.monotonic() - began, rss_kib(serve.proc.pid), depth["pending"])
                    )
                    await asyncio.sleep(5)  # the sampling period, not a wait for an outcome

            # GitLab's own patience; the answer times are reported, not asserted (shared machine).
            timeout = aiohttp.ClientTimeout(total=10.0)
            async with aiohttp.ClientSession(timeout=timeout) as session:
                began = time.monotonic()
                sampler = asyncio.create_task(sample(session, began))
                tasks: set[asyncio.Task[None]] = set()
                sent = 0
                behind = 0
                while (now := time.monotonic() - began) < DURATION_S:
                    due = int(now * RATE) + 1
                    while sent < due:
                        if slots.locked():
                            behind += 1
                        await slots.acquire()
                        sent += 1
                        task = asyncio.create_task(deliver(session, sent))
                        tasks.add(task)
                        task.add_done_callback(tasks.discard)
                    # The load's pace (RATE a second), not a wait for an outcome.
                    await asyncio.sleep(max(0.0, (sent / RATE) - (time.monotonic() - began)))
                await asyncio.gather(*tasks)
                drained_at = None

                async def drained() -> bool:  # the backlog left when the load stops
                    depth = await queue_depth(session, serve.url)
                    return depth["pending"] == depth["processing"] == 0

                with contextlib.suppress(NotInTime):  # not drained: reported below
                    await eventually(drained, within_s=30, every_s=0.1, ignoring=())
                    drained_at = time.monotonic() - began - DURATION_S
                sampler.cancel()
                end_rss = rss_kib(serve.proc.pid)
        finally:
            exit_status = serve.stop(signal.SIGTERM)

    store = Store.open(database_url)
    try:
        queue = await store.stats(utcnow())
        unfinished = [
            d
            for status in ("failed", "partial")
            for d in await store.list_deliveries(status=status, limit=10)
        ]
    finally:
        await store.close()
    log_lines = [
        json.loads(line)
        for line in (tmp_path / "serve.log").read_text().splitlines()
        if line.startswith("{")
    ]
    errors = [line for line in log_lines if line.get("level") in ("error", "critical")]

    warm = [rss for t, rss, _ in samples if t >= warm_up_s]
    baseline = warm[0] if warm else samples[-1][1]
    last = max(rss for t, rss, _ in samples if t >= DURATION_S - 30) if samples else end_rss
    growth = (last - baseline) / baseline
    print(
        f"\nsoak: {DURATION_S:.0f} s at {RATE:.0f} deliveries/s: {sent} sent, {len(failures)} refused"
        f" or unanswered, generator behind schedule {behind} times;"
        f" answer p50 {statistics.median(latencies) * 1000:.1f} ms,"
        f" p99 {percentile(latencies, 0.99) * 1000:.1f} ms, max {max(latencies) * 1000:.0f} ms;"
        f" RSS start {samples[0][1] / 1024:.1f} MiB, after {warm_up_s:.0f} s warm-up"
        f" {baseline / 1024:.1f} MiB, end {last / 1024:.1f} MiB (growth {growth:+.1%}),"
        f" peak {max(r for _, r, _ in samples) / 1024:.1f} MiB;"
        f" pending at most {max(p for _, _, p in samples):.0f}, drained"
        f" {drained_at if drained_at is None else f'{drained_at:.1f} s'} after the load stopped;"
        f" {len(errors)} error lines"
    )
    assert failures == []
    assert drained_at is not None, "deliveries still pending after the load stopped"
    assert unfinished == [] and errors == []
    assert queue.pending == queue.processing == queue.failed == 0
    assert growth < 0.10, f"memory grew {growth:.1%} after warm-up"
    assert exit_status == 0
    comments = sum(len(marked_notes(sim, ITEMS, n)) for n in range(1, ISSUES + 1))
    assert comments == sent  # one comment per delivery, none twice
