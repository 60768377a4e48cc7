"""Several `hooks serve` processes rolling sprints over at once against a rate-limited simulator.

One team project per replica, each with its own `Sprint 1` (closed at the same moment) and
`Sprint 2`; every item of a Sprint 1 moves to its Sprint 2. The simulator throttles the bot's
account as GitLab's authenticated API throttle does (fixed windows aligned to Unix time,
`RateLimit-*` headers on every answer, 429 `Retry later` past the limit).

`shared=True`: the replicas share one PostgreSQL database, hence one rate budget and one queue
(each takes one delivery at a time, so the three sprints go to three processes). `shared=False`
is the baseline: each replica on a SQLite file of its own, its project's hook pointed at it, each
spending its own budget as every replica did before the shared one.
"""

from __future__ import annotations

import asyncio
import math
import os
import socket
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import gitlab

from hooks.testing.sim_faults import Fault
from hooks.testing.simulator import Simulator
from hooks.testing.waiting import eventually

SECRET = "replica-secret"
RULE = """
rules:
- name: roll-over
  on: {milestone: [close]}
  for_each: {issues: {milestone: event, state: opened}}
  do: [{move_to_milestone: next}]
"""


def seed(replicas: int, items: int) -> dict[str, Any]:
    today = date.today()
    projects = [f"teams/team-{n}" for n in range(replicas)]
    milestones = []
    for path in projects:
        milestones += [
            {
                "project": path,
                "title": "Sprint 1",
                "start_date": str(today - timedelta(days=14)),
                "due_date": str(today - timedelta(days=1)),
            },
            {
                "project": path,
                "title": "Sprint 2",
                "start_date": str(today),
                "due_date": str(today + timedelta(days=13)),
            },
        ]
    return {
        "users": [
            {"username": "hooks-bot", "token": "sim-token"},
            {"username": "alice", "token": "alice-token"},
        ],
        "groups": [{"path": "teams"}],
        "projects": [{"path": p} for p in projects],
        "milestones": milestones,
        "issues": [
            {
                "project": projects[n % replicas],
                "title": f"Item {n}",
                "milestone": "Sprint 1",
                "author": "alice",
            }
            for n in range(items)
        ],
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Replica:
    """One `hooks serve` process."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "hooks", "serve", "--port", str(self.port)],
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    async def ready(self, within_s: float = 60) -> None:
        async with aiohttp.ClientSession() as session:

            async def answers_ready() -> bool:
                assert self.proc.poll() is None, "hooks serve exited during start-up"
                async with session.get(self.url + "/readyz") as response:
                    return response.status == 200

            await eventually(
                answers_ready,
                within_s=within_s,
                every_s=0.1,
                ignoring=(aiohttp.ClientError,),
                what="hooks serve ready",
            )

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=30)
        self.log.close()


@dataclass(frozen=True)
class Figures:
    seconds: float  # sprints closed -> every item moved
    requests: int  # the bot's requests in that time (refused ones too)
    refused: int  # 429 answers
    moved: int  # items now in Sprint 2
    moved_twice: int  # items whose milestone was written more than once
    per_window: int  # the simulator's limit per window
    window_s: float
    writes_by_replica: tuple[int, ...]  # PUT requests each replica made (its /metrics)

    @property
    def floor(self) -> float:
        """The least time the limit allows for the requests that succeeded."""
        return (self.requests - self.refused) / self.per_window * self.window_s

    @property
    def ratio(self) -> float:
        return self.seconds / self.floor


def env_of(
    sim: Simulator, database_url: str, rules: Path, per_minute: int, window_s: float, threads: int
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOOKS_")}
    env.update(
        HOOKS_DATABASE_URL=database_url,
        HOOKS_WEBHOOK_SECRET=SECRET,
        HOOKS_RULES_DIR=str(rules),
        HOOKS_GITLAB_URL=sim.url,
        HOOKS_GITLAB_TOKEN="sim-token",
        HOOKS_GITLAB_RATE_PER_MINUTE=str(per_minute),
        HOOKS_GITLAB_RATE_WINDOW_S=str(int(window_s)),
        HOOKS_GITLAB_THREADS=str(threads),
        HOOKS_GITLAB_TIMEOUT_S="30",
        HOOKS_WORKER_CONCURRENCY="1",  # one sprint per replica at a time
        HOOKS_POLL_INTERVAL_S="0.1",
        HOOKS_LEASE_SECONDS="30",
        HOOKS_SUBJECT_HOURLY_CAP="1000000",
        HOOKS_WATCHDOG_INTERVAL_S="0",
        HOOKS_RECONCILE_INTERVAL_S="0",
        HOOKS_LOG_FORMAT="json",
        HOOKS_LOG_LEVEL="WARNING",
    )
    return env


async def roll_over(
    sim: Simulator,
    tmp: Path,
    *,
    replicas: int,
    items: int,
    per_window: int,
    window_s: float,
    postgres_url: str | None,
    threads: int = 8,
    within_s: float = 600,
    source: str | None = None,
) -> Figures:
    """Close every team's Sprint 1 at once (at the start of a window); wait for every move.

    `source`: a folder holding another version's `hooks/` package for the replicas to run.
    """
    rules = tmp / "rules"
    rules.mkdir(exist_ok=True)
    (rules / "r.yaml").write_text(RULE)
    per_minute = math.ceil(per_window * 60 / window_s)
    sim.faults.add(Fault(user="hooks-bot", rate_limit_per_minute=per_window, window_s=window_s))
    procs = []
    try:
        for n in range(replicas):
            url = postgres_url or f"sqlite:///{tmp}/replica-{n}.db"
            env = env_of(sim, url, rules, per_minute, window_s, threads)
            if source:
                env["PYTHONPATH"] = source
            procs.append(Replica(env, tmp / f"replica-{n}.log"))
        await asyncio.gather(*(p.ready() for p in procs))
        for n, proc in enumerate(procs):
            sim.add_hook(f"{proc.url}/webhook", SECRET, project=f"teams/team-{n}")
        closer = gitlab.Gitlab(sim.url, private_token="alice-token", timeout=30)
        sprints = [
            closer.projects.get(f"teams/team-{n}", lazy=True).milestones.get(
                sim.milestone("Sprint 1", owner=f"teams/team-{n}")["id"]
            )
            for n in range(replicas)
        ]
        # Start at a window's start: the run then needs every window it spans in full.
        await asyncio.sleep(window_s - time.time() % window_s + 0.01)
        sim.clear_requests()
        started = time.perf_counter()
        await asyncio.gather(*(asyncio.to_thread(close, s) for s in sprints))

        def all_moved() -> bool:
            return moved(sim, replicas) == items

        await eventually(all_moved, within_s=within_s, every_s=0.1, what="every item moved")
        seconds = time.perf_counter() - started
        calls = sim.recorded(user="hooks-bot")
        by_replica = tuple([await puts_of(p) for p in procs])
        writes = Counter(c.path for c in calls if c.method == "PUT" and c.status == 200)
        return Figures(
            seconds=seconds,
            requests=len(calls),
            refused=sum(c.status == 429 for c in calls),
            moved=moved(sim, replicas),
            moved_twice=sum(n > 1 for n in writes.values()),
            per_window=per_window,
            window_s=window_s,
            writes_by_replica=by_replica,
        )
    finally:
        for proc in procs:
            proc.stop()


async def puts_of(replica: Replica) -> int:
    """The PUT requests a replica sent GitLab, whatever the answer (its /metrics)."""
    async with aiohttp.ClientSession() as session, session.get(replica.url + "/metrics") as r:
        text = await r.text()
    return sum(
        int(float(line.rsplit(" ", 1)[1]))
        for line in text.splitlines()
        if line.startswith("hooks_gitlab_api_seconds_count{") and 'method="put"' in line.lower()
    )


def close(milestone: Any) -> None:
    milestone.state_event = "close"
    milestone.save()


def moved(sim: Simulator, replicas: int) -> int:
    return sum(
        (i.get("milestone") or {}).get("title") == "Sprint 2"
        for n in range(replicas)
        for i in sim.issues(f"teams/team-{n}")
    )
