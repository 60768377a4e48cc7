"""Benchmarks 1, 5 and 7: intake throughput and acknowledgement latency, memory, start-up.

Every figure has a baseline measured in the same run on the same machine:

1. `hooks serve` (durable SQLite inbox, worker running) against a bare aiohttp handler that
   answers 202 without storing, both driven by the same load generator: this process, over
   loopback, closed loop (a fixed number of clients) for throughput, then open loop at
   300 deliveries/s for the acknowledgement latency.
5. The resident memory of `hooks serve` once ready, and once 10,000 deliveries wait in its
   inbox (its worker held, `HOOKS_WORKER_CONCURRENCY=0`, so they stay pending), against an
   interpreter that imported the same modules and does nothing, and the bare server.
7. Start to ready (`/readyz` 200) against the bare aiohttp app started the same way, and
   against the interpreter only importing the service's modules.

Every process is started here, bounded in requests and seconds, and stopped here.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from bench.report import Row
from hooks.testing.serve_process import free_port
from hooks.testing.waiting import eventually_sync

SECRET = "bench-secret"
SIM_TOKEN = "sim-token"
ROOT = Path(__file__).resolve().parents[1]
SHIPPED_RULES = ROOT / "rules"
FIXTURE = ROOT / "tests" / "fixtures" / "webhooks" / "issue_open.json"  # GitLab's docs example
CLIENTS = 32  # closed-loop clients for the throughput figure
RATE, SECONDS = 300, 8  # open-loop acknowledgement latency
PENDING = 10_000  # deliveries waiting in the inbox for the memory figure
STARTS = 3  # start-to-ready runs per process

BARE_SERVER = textwrap.dedent(
    """
    import sys
    from aiohttp import web

    async def hook(request):
        await request.read()
        return web.json_response({"delivery": 1, "duplicate": False}, status=202)

    app = web.Application()
    app.router.add_post("/webhook", hook)
    app.router.add_get("/readyz", lambda r: web.json_response({"ready": True}))
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
    """
)
# The service as `pip install .` deploys it: without the dev extra, python-gitlab finds no
# `gql` (its own GraphQL client, which only the tests use) and does not load it; in the dev
# virtualenv it is installed, so it is hidden the way an absent package is.
AS_DEPLOYED = "import sys; sys.modules['gql'] = None; "
SERVE = AS_DEPLOYED + "from hooks.service.cli import main; sys.exit(main())"
# The service's modules imported, nothing run: the floor under the service's memory.
IMPORTS_ONLY = (
    AS_DEPLOYED + "import hooks.service.cli; print('imported', flush=True); sys.stdin.read()"
)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_ready(port: int, timeout: float = 20.0) -> float:
    """Seconds until GET /readyz answers 200."""
    started = time.perf_counter()

    def ready() -> bool:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as r:
            return bool(r.status == 200)

    eventually_sync(
        ready, within_s=timeout, every_s=0.005, ignoring=(OSError,), what=f"port {port} ready"
    )
    return time.perf_counter() - started


@contextmanager
def process(
    args: list[str], env: dict[str, str] | None = None, *, piped: bool = False
) -> Iterator[subprocess.Popen[bytes]]:
    """A child process, stopped with SIGTERM (SIGKILL after 15 s) when the block ends."""
    proc = subprocess.Popen(
        args,
        env={**os.environ, **(env or {})},
        stdin=subprocess.PIPE if piped else subprocess.DEVNULL,
        stdout=subprocess.PIPE if piped else subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield proc
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def service_env(workdir: Path, rules: Path, gitlab_url: str | None = None) -> dict[str, str]:
    """The service's environment; with `gitlab_url`, it acts as the simulator's bot."""
    env = {
        "HOOKS_DATABASE_URL": f"sqlite:///{workdir / 'hooks.db'}",
        "HOOKS_WEBHOOK_SECRET": SECRET,
        "HOOKS_RULES_DIR": str(rules),
        "HOOKS_LOG_LEVEL": "WARNING",
        "HOOKS_LOG_FORMAT": "json",
    }
    if gitlab_url:
        env.update(HOOKS_GITLAB_URL=gitlab_url, HOOKS_GITLAB_TOKEN=SIM_TOKEN)
    return env


@contextmanager
def simulator() -> Iterator[str]:
    """`hooks simulate` in a process of its own; yields its URL."""
    port = free_port()
    cmd = [sys.executable, "-m", "hooks", "simulate", "--port", str(port), "--token", SIM_TOKEN]
    with process(cmd):
        url = f"http://127.0.0.1:{port}"

        def answers() -> bool:
            request = urllib.request.Request(
                f"{url}/api/v4/user", headers={"PRIVATE-TOKEN": SIM_TOKEN}
            )
            with urllib.request.urlopen(request, timeout=1):
                return True

        eventually_sync(answers, within_s=20, every_s=0.05, ignoring=(OSError,))
        yield url


def _headers(key: str) -> dict[str, str]:
    return {
        "X-Gitlab-Event": "Issue Hook",
        "X-Gitlab-Token": SECRET,
        "Idempotency-Key": key,
        "Content-Type": "application/json",
    }


async def load(port: int, rate: float, seconds: float, body: bytes) -> tuple[int, list[float]]:
    """Send `rate` deliveries/s for `seconds` (open loop); return (accepted, latencies in s)."""
    latencies: list[float] = []
    accepted = 0
    payload = json.loads(body)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64)) as session:

        async def one(i: int) -> None:
            nonlocal accepted
            payload["object_attributes"]["id"] = i  # distinct bodies: no deduplication
            data = json.dumps(payload)
            started = time.perf_counter()
            async with session.post(
                f"http://127.0.0.1:{port}/webhook", data=data, headers=_headers(f"lat-{port}-{i}")
            ) as r:
                await r.read()
                accepted += r.status == 202
            latencies.append(time.perf_counter() - started)

        tasks = []
        start = time.perf_counter()
        for i in range(int(rate * seconds)):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(i)))
        await asyncio.gather(*tasks)
    return accepted, latencies


async def saturate(
    port: int, body: bytes, *, seconds: float, clients: int = CLIENTS, most: int | None = None
) -> tuple[int, float]:
    """Closed loop: `clients` send one delivery after another for `seconds` (or until
    `most` are accepted); return (accepted, deliveries/s)."""
    done = 0
    run = uuid.uuid4().hex[:8]  # keys never repeat across calls: nothing is a duplicate
    deadline = time.perf_counter() + seconds
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=clients)) as session:

        async def client(c: int) -> None:
            nonlocal done
            i = 0
            while time.perf_counter() < deadline and (most is None or done < most):
                async with session.post(
                    f"http://127.0.0.1:{port}/webhook",
                    data=body,
                    headers=_headers(f"sat-{run}-{c}-{i}"),
                ) as r:
                    await r.read()
                    done += r.status == 202
                i += 1

        started = time.perf_counter()
        await asyncio.gather(*(client(c) for c in range(clients)))
        return done, done / (time.perf_counter() - started)


def pct(values: list[float], p: float) -> float:
    """The p-th percentile of `values` (seconds), in milliseconds."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000


def pending(port: int) -> int:
    """Deliveries waiting in the inbox, read from the service's /metrics."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        for line in r.read().decode().splitlines():
            if line.startswith('hooks_queue_depth{status="pending"}'):
                return int(float(line.split()[-1]))
    return 0


def hooks_cmd(port: int) -> list[str]:
    return [sys.executable, "-c", SERVE, "serve", "--port", str(port)]


def bare_cmd(port: int) -> list[str]:
    return [sys.executable, "-c", BARE_SERVER, str(port)]


@dataclass
class Starts:
    """Start to ready (s) and RSS once ready (MB): first start, restarts, baselines."""

    first: float = 0.0
    first_rss: float = 0.0
    restarts: list[float] = field(default_factory=list)
    restart_rss: list[float] = field(default_factory=list)
    bare: list[float] = field(default_factory=list)
    imports: list[float] = field(default_factory=list)
    imports_rss: list[float] = field(default_factory=list)


def start_times(workdir: Path, gitlab_url: str) -> Starts:
    """First start (migrating a new database), restarts, bare app starts, import-only runs.

    The service runs as deployed: the shipped rules, a token, the bot resolved at start.
    """
    env = service_env(workdir, SHIPPED_RULES, gitlab_url)
    found = Starts()
    for n in range(STARTS + 1):
        port = free_port()
        with process(hooks_cmd(port), env) as proc:
            ready = wait_ready(port)
            rss = rss_mb(proc.pid)
        if n == 0:
            found.first, found.first_rss = ready, rss
        else:
            found.restarts.append(ready)
            found.restart_rss.append(rss)
        port = free_port()
        with process(bare_cmd(port)):
            bare = wait_ready(port)
        started = time.perf_counter()
        with process([sys.executable, "-c", IMPORTS_ONLY], piped=True) as proc:
            assert proc.stdout is not None
            proc.stdout.readline()
            imports = time.perf_counter() - started
            imports_rss = rss_mb(proc.pid)
        if n:  # the first round warms the file cache for all three
            found.bare.append(bare)
            found.imports.append(imports)
            found.imports_rss.append(imports_rss)
    return found


@dataclass
class Intake:
    """Deliveries/s (closed loop) and acknowledgement latencies (s) at RATE/s."""

    rate: float
    bare_rate: float
    cpu_ms: float  # service CPU per delivery stored, closed loop
    bare_cpu_ms: float
    accepted: int
    latencies: list[float]
    bare_latencies: list[float]


def intake(workdir: Path, body: bytes) -> Intake:
    """The service as it runs (worker on, no rules) against the bare handler, same load."""
    port, bare_port = free_port(), free_port()
    with (
        process(hooks_cmd(port), service_env(workdir, workdir / "rules")) as proc,
        process(bare_cmd(bare_port)) as bare,
    ):
        wait_ready(port)
        wait_ready(bare_port)
        cpu = cpu_seconds(bare.pid)
        answered, bare_rate = asyncio.run(saturate(bare_port, body, seconds=5))
        bare_cpu_ms = (cpu_seconds(bare.pid) - cpu) * 1000 / answered
        cpu = cpu_seconds(proc.pid)
        stored, rate = asyncio.run(saturate(port, body, seconds=5))
        cpu_ms = (cpu_seconds(proc.pid) - cpu) * 1000 / stored
        accepted, latencies = asyncio.run(load(port, RATE, SECONDS, body))
        _, bare_latencies = asyncio.run(load(bare_port, RATE, SECONDS, body))
    return Intake(rate, bare_rate, cpu_ms, bare_cpu_ms, accepted, latencies, bare_latencies)


def grown_inbox(workdir: Path, gitlab_url: str, body: bytes) -> tuple[float, float, int, float]:
    """RSS (MB) of a restarted service once ready and once PENDING deliveries wait (its
    worker held, so they stay pending); how many wait; the bare server's RSS."""
    env = {
        **service_env(workdir, SHIPPED_RULES, gitlab_url),
        "HOOKS_WORKER_CONCURRENCY": "0",
    }
    port, bare_port = free_port(), free_port()
    with process(hooks_cmd(port), env) as proc, process(bare_cmd(bare_port)) as bare:
        wait_ready(port)
        wait_ready(bare_port)
        ready = rss_mb(proc.pid)
        asyncio.run(saturate(port, body, seconds=40, clients=64, most=PENDING))
        return ready, rss_mb(proc.pid), pending(port), rss_mb(bare.pid)


def main() -> list[Row]:
    """Run benchmarks 1, 5 and 7; print their details and return their rows."""
    body = FIXTURE.read_bytes()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        (workdir / "rules").mkdir()
        with simulator() as gitlab_url:
            starts = start_times(workdir / "deployed", gitlab_url)  # first: on a quiet machine
            ready, grown, waiting, bare_rss = grown_inbox(workdir / "deployed", gitlab_url, body)
        measured = intake(workdir, body)

    restart = statistics.median(starts.restarts)
    bare_start = statistics.median(starts.bare)
    restart_rss = statistics.median(starts.restart_rss)
    imports_rss = statistics.median(starts.imports_rss)
    lat, bare_lat = measured.latencies, measured.bare_latencies
    ratio = measured.rate / measured.bare_rate
    p99 = pct(lat, 99)
    print(
        f"start to ready: first start (migrates a new database) {starts.first:.2f} s, "
        f"restarts {fmt(starts.restarts)} s; bare aiohttp app {fmt(starts.bare)} s; "
        f"interpreter importing the service's modules {fmt(starts.imports)} s"
    )
    print(
        f"RSS once ready: first start {starts.first_rss:.0f} MB (Alembic loaded to migrate), "
        f"restarts {fmt(starts.restart_rss, 0)} MB; same imports, idle "
        f"{fmt(starts.imports_rss, 0)} MB; bare aiohttp {bare_rss:.0f} MB"
    )
    print(f"RSS of a restarted service {ready:.0f} MB, with {waiting} pending {grown:.0f} MB")
    print(
        f"intake, {CLIENTS} clients: service {measured.rate:.0f}/s "
        f"({measured.cpu_ms:.2f} ms CPU per delivery, worker included), bare handler "
        f"{measured.bare_rate:.0f}/s ({measured.bare_cpu_ms:.2f} ms CPU); "
        f"ack at {RATE}/s for {SECONDS} s: service "
        f"p50 {pct(lat, 50):.1f} p99 {p99:.1f} ms ({measured.accepted} stored), "
        f"bare p50 {pct(bare_lat, 50):.1f} p99 {pct(bare_lat, 99):.1f} ms"
    )
    return [
        Row(
            1,
            f"intake deliveries/s, {CLIENTS} clients, closed loop",
            f"{measured.rate:.0f}/s",
            f"bare 202 handler {measured.bare_rate:.0f}/s",
            f"{ratio:.2f}",
            ">= 0.5",
            ratio >= 0.5,
        ),
        Row(
            1,
            f"ack p50 / p99 at {RATE}/s",
            f"{pct(lat, 50):.1f} / {p99:.1f} ms",
            f"bare {pct(bare_lat, 50):.1f} / {pct(bare_lat, 99):.1f} ms",
            f"{p99 / pct(bare_lat, 99):.1f}",
            "p99 <= 10 ms",
            p99 <= 10,
        ),
        Row(
            5,
            f"RSS once ready, median of {STARTS} restarts",
            f"{restart_rss:.0f} MB",
            f"same imports, idle {imports_rss:.0f} MB",
            f"{restart_rss / imports_rss:.2f}",
            "<= 90 MB",
            restart_rss <= 90,
        ),
        Row(
            5,
            "RSS once ready, first start (migrates)",
            f"{starts.first_rss:.0f} MB",
            "",
            "",
            "<= 90 MB",
            starts.first_rss <= 90,
        ),
        Row(
            5,
            f"RSS with {waiting:,} pending",
            f"{grown:.0f} MB",
            f"bare aiohttp {bare_rss:.0f} MB",
            f"{grown / ready:.2f} of ready",
            "<= 150 MB",
            grown <= 150 and waiting >= PENDING,
        ),
        Row(
            7,
            f"start to ready, median of {STARTS} restarts",
            f"{restart:.2f} s",
            f"bare app {bare_start:.2f} s",
            f"{restart / bare_start:.1f}",
            "<= 1.5 s",
            restart <= 1.5,
        ),
        Row(
            7,
            "start to ready, first start (migrates)",
            f"{starts.first:.2f} s",
            "",
            "",
            "<= 1.5 s",
            starts.first <= 1.5,
        ),
    ]


def fmt(values: list[float], digits: int = 2) -> str:
    return "/".join(f"{v:.{digits}f}" for v in values)


if __name__ == "__main__":
    main()
