"""Intake benchmarks: throughput and acknowledgement latency, memory, start-up time.

Each figure is measured against a baseline in the same run: `hooks serve` with its durable
SQLite inbox against a bare aiohttp handler that answers 202 without storing, both driven
by the same load generator from this process over loopback.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import aiohttp

SECRET = "bench-secret"
ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT.parent / "shared" / "fixtures" / "gitlab-webhooks" / "issue_open.json"

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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def wait_ready(port: int, timeout: float = 20.0) -> float:
    """Seconds until GET /readyz answers 200."""
    import urllib.request

    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as r:
                if r.status == 200:
                    return time.perf_counter() - started
        except OSError:
            pass
        time.sleep(0.01)
    raise RuntimeError(f"not ready on port {port} within {timeout}s")


@contextmanager
def process(
    args: list[str], env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(
        args, env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        yield proc
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()


def service_env(workdir: Path, rules: Path) -> dict[str, str]:
    return {
        "HOOKS_DATABASE_URL": f"sqlite:///{workdir / 'hooks.db'}",
        "HOOKS_WEBHOOK_SECRET": SECRET,
        "HOOKS_RULES_DIR": str(rules),
        "HOOKS_LOG_LEVEL": "WARNING",
        "HOOKS_LOG_FORMAT": "json",
    }


async def load(port: int, rate: float, seconds: float, body: bytes) -> tuple[int, list[float]]:
    """Send `rate` deliveries/s for `seconds` (open loop); return (accepted, latencies in s)."""
    latencies: list[float] = []
    accepted = 0
    total = int(rate * seconds)
    connector = aiohttp.TCPConnector(limit=64)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one(i: int) -> None:
            nonlocal accepted
            payload = json.loads(body)
            payload["object_attributes"]["id"] = i  # distinct bodies: no deduplication
            headers = {
                "X-Gitlab-Event": "Issue Hook",
                "X-Gitlab-Token": SECRET,
                "Idempotency-Key": f"bench-{port}-{i}",
                "Content-Type": "application/json",
            }
            started = time.perf_counter()
            async with session.post(
                f"http://127.0.0.1:{port}/webhook", data=json.dumps(payload), headers=headers
            ) as r:
                await r.read()
                if r.status == 202:
                    accepted += 1
            latencies.append(time.perf_counter() - started)

        tasks = []
        start = time.perf_counter()
        for i in range(total):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(i)))
        await asyncio.gather(*tasks)
    return accepted, latencies


async def saturate(port: int, seconds: float, body: bytes, concurrency: int = 32) -> float:
    """Closed-loop throughput: deliveries/s with `concurrency` clients for `seconds`."""
    done = 0
    deadline = time.perf_counter() + seconds
    async with aiohttp.ClientSession() as session:

        async def client(c: int) -> None:
            nonlocal done
            i = 0
            while time.perf_counter() < deadline:
                headers = {
                    "X-Gitlab-Event": "Issue Hook",
                    "X-Gitlab-Token": SECRET,
                    "Idempotency-Key": f"sat-{port}-{c}-{i}",
                }
                async with session.post(
                    f"http://127.0.0.1:{port}/webhook", data=body, headers=headers
                ) as r:
                    await r.read()
                    done += r.status == 202
                i += 1

        started = time.perf_counter()
        await asyncio.gather(*(client(c) for c in range(concurrency)))
        return done / (time.perf_counter() - started)


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000


def main() -> list[tuple[str, str, str, str]]:
    """Run the intake benchmarks and print their table."""
    body = FIXTURE.read_bytes()
    rows: list[tuple[str, str, str, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        rules = workdir / "rules"
        rules.mkdir()
        env = service_env(workdir, rules)
        # A worker that never claims: measure the intake alone, and let the queue grow.
        env["HOOKS_WORKER_CONCURRENCY"] = "1"
        port, bare_port = free_port(), free_port()
        hooks_cmd = [sys.executable, "-m", "hooks", "serve", "--port", str(port)]
        with process(hooks_cmd, env) as proc:
            start_s = wait_ready(port)
            rss_start = rss_mb(proc.pid)
            with process([sys.executable, "-c", BARE_SERVER, str(bare_port)]):
                bare_start = wait_ready(bare_port)
                bare_rate = asyncio.run(saturate(bare_port, 5, body))
                hooks_rate = asyncio.run(saturate(port, 5, body))
                accepted, lat = asyncio.run(load(port, 300, 10, body))
                _, bare_lat = asyncio.run(load(bare_port, 300, 10, body))
            rss_after = rss_mb(proc.pid)
        rows += [
            (
                "intake deliveries/s (32 clients)",
                f"{hooks_rate:.0f}",
                f"bare {bare_rate:.0f}",
                f"{hooks_rate / bare_rate:.2f} (target >= 0.5)",
            ),
            (
                "ack p50 / p99 at 300/s (ms)",
                f"{pct(lat, 50):.1f} / {pct(lat, 99):.1f}",
                f"bare {pct(bare_lat, 50):.1f} / {pct(bare_lat, 99):.1f}",
                f"p99 target <= 10 ms; {accepted}/3000 accepted",
            ),
            ("start to ready (s)", f"{start_s:.2f}", f"bare {bare_start:.2f}", "target <= 1.5"),
            ("RSS after start (MB)", f"{rss_start:.0f}", "", "target <= 90"),
            ("RSS with the inbox grown (MB)", f"{rss_after:.0f}", "", "target <= 150"),
        ]
    width = max(len(r[0]) for r in rows)
    print(f"{'intake':<{width}}  {'value':>14}  {'baseline':>18}  ratio / target")
    for name, value, base, note in rows:
        print(f"{name:<{width}}  {value:>14}  {base:>18}  {note}")
    print(
        f"(stdev-free single run; median of ack latencies {statistics.median(lat) * 1000:.1f} ms)"
    )
    return rows


if __name__ == "__main__":
    main()
