"""Simulator throughput with latency off, against a bare aiohttp server returning the same JSON.

Both servers run in a subprocess of their own (one core each at most); the load comes from
this process over loopback, with the same client and concurrency for both.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
import time

import aiohttp

from bench.bench_intake import free_port, pct
from bench.report import Row

SIM = textwrap.dedent(
    """
    import sys
    from aiohttp import web
    from hooks.testing.simulator import Simulator
    web.run_app(Simulator().app(), host="127.0.0.1", port=int(sys.argv[1]), print=None,
                access_log=None)
    """
)
BARE = textwrap.dedent(
    """
    import sys, json
    from aiohttp import web
    from hooks.testing.simulator import Simulator
    sim = Simulator()
    body = json.dumps(sim.issue("demo/product", 1)).encode()
    async def issue(request):
        return web.Response(body=body, content_type="application/json")
    app = web.Application()
    app.router.add_get("/api/v4/projects/{p}/issues/{iid}", issue)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
    """
)
PATH = "/api/v4/projects/1/issues/1"


async def drive(port: int, seconds: float, concurrency: int = 16) -> tuple[float, list[float]]:
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds
    async with aiohttp.ClientSession(headers={"PRIVATE-TOKEN": "sim-token"}) as session:

        async def client() -> None:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                async with session.get(f"http://127.0.0.1:{port}{PATH}") as r:
                    await r.read()
                    assert r.status == 200, r.status
                latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(concurrency)))
        return len(latencies) / (time.perf_counter() - started), latencies


async def wait_up(port: int) -> None:
    async with aiohttp.ClientSession(headers={"PRIVATE-TOKEN": "sim-token"}) as session:
        for _ in range(200):
            try:
                async with session.get(f"http://127.0.0.1:{port}{PATH}") as r:
                    if r.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
    raise RuntimeError("server did not start")


def measure(script: str) -> tuple[float, list[float]]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", script, str(port)])
    try:
        asyncio.run(wait_up(port))
        return asyncio.run(drive(port, 5.0))
    finally:
        proc.terminate()
        proc.wait(10)


def main() -> list[Row]:
    """Print simulator requests/s and latency beside the bare baseline."""
    sim_rate, sim_lat = measure(SIM)
    bare_rate, bare_lat = measure(BARE)
    print(f"{'':28}{'simulator':>12}{'bare aiohttp':>14}{'ratio':>8}")
    print(
        f"{'GET issue, requests/s':28}{sim_rate:>12.0f}{bare_rate:>14.0f}"
        f"{sim_rate / bare_rate:>8.2f}   target >= 2,000/s"
    )
    print(
        f"{'p50 / p99 latency (ms)':28}{pct(sim_lat, 50):>6.1f} /{pct(sim_lat, 99):>4.1f}"
        f"{pct(bare_lat, 50):>8.1f} /{pct(bare_lat, 99):>4.1f}"
    )

    return [
        Row(
            8,
            "simulator GET issue, latency off, 16 clients",
            f"{sim_rate:.0f} req/s",
            f"bare aiohttp {bare_rate:.0f} req/s",
            f"{sim_rate / bare_rate:.2f}",
            ">= 2,000 req/s",
            sim_rate >= 2000,
        )
    ]


if __name__ == "__main__":
    main()
