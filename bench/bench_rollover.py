"""Roll-over of a 1,000-item sprint against a simulator answering in 50 ms, beside a plain
serial python-gitlab script doing the same moves in the same run; then the same under a
600 requests/minute limit (200 items, so the run stays short).
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

import gitlab
from aiohttp import web
from pydantic import SecretStr

from bench.report import Row
from hooks.service.app import create_app
from hooks.service.config import Settings
from hooks.service.context import SERVICE
from hooks.testing.harness import settle
from hooks.testing.seeds import ended_sprint_seed
from hooks.testing.sim_faults import Fault
from hooks.testing.simulator import Simulator, SimulatorThread

SECRET = "bench"
RULE = """
rules:
- name: roll-over
  on: {milestone: [close]}
  for_each: {issues: {project: demo/product, milestone: event, state: opened}}
  do: [{move_to_milestone: next}]
"""


def serial_script(sim: Simulator) -> float:
    """The baseline: list the sprint's issues, move each, one request at a time."""
    gl = gitlab.Gitlab(sim.url, private_token="sim-token", timeout=30)
    started = time.perf_counter()
    project = gl.projects.get("demo/product", lazy=True)
    target = next(
        m
        for m in gl.groups.get("demo", lazy=True).milestones.list(get_all=True)
        if m.title == "Sprint 2"
    )
    for issue in project.issues.list(
        milestone="Sprint 1", state="opened", get_all=True, per_page=100
    ):
        issue.milestone_id = target.id
        issue.save()
    return time.perf_counter() - started


async def service_rollover(sim: Simulator, tmp: Path, threads: int, rate: int) -> float:
    rules = tmp / "rules"
    rules.mkdir(exist_ok=True)
    (rules / "r.yaml").write_text(RULE)
    settings = Settings(
        _env_file=None,
        database_url=f"sqlite:///{tmp}/hooks-{threads}-{rate}.db",
        webhook_secret=SECRET,
        rules_dir=rules,
        gitlab_url=sim.url,
        gitlab_token=SecretStr("sim-token"),
        gitlab_threads=threads,
        gitlab_rate_per_minute=rate,
        gitlab_timeout_s=30,
        log_level="ERROR",
        subject_hourly_cap=1_000_000,
        lease_seconds=300,
    )
    app = create_app(settings)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    sim.add_hook(f"http://127.0.0.1:{port}/webhook", SECRET, group="demo")
    try:
        sprint = sim.milestone("Sprint 1")
        closer = gitlab.Gitlab(sim.url, private_token="alice-token", timeout=30)
        milestone = closer.groups.get("demo", lazy=True).milestones.get(sprint["id"])
        sim.clear_requests()
        started = time.perf_counter()
        milestone.state_event = "close"
        await asyncio.to_thread(milestone.save)
        await settle(sim, app[SERVICE].store, within_s=900)
        return time.perf_counter() - started
    finally:
        await runner.cleanup()


def run(size: int, latency: float, threads: int, rate: int, limit: int | None) -> dict[str, float]:
    figures: dict[str, float] = {}
    for label in ("serial", "hooks"):
        sim = Simulator(ended_sprint_seed(size))
        if latency:
            sim.faults.add(Fault(latency_s=latency))
        if limit:
            sim.faults.add(Fault(user="hooks-bot", rate_limit_per_minute=limit))
        with SimulatorThread(sim), tempfile.TemporaryDirectory() as tmp:
            if label == "serial":
                if limit:
                    continue  # the limit's floor is the baseline of this variant
                figures["serial_s"] = serial_script(sim)
            else:
                figures["hooks_s"] = asyncio.run(service_rollover(sim, Path(tmp), threads, rate))
                calls = sim.recorded(user="hooks-bot")
                figures["puts"] = sum(c.method == "PUT" for c in calls)
                figures["calls"] = len(calls)
                figures["errors"] = sum(c.status >= 400 for c in calls)
                moved = sum(
                    i["milestone"]["title"] == "Sprint 2" for i in sim.issues("demo/product")
                )
                figures["moved"] = moved
    return figures


def main() -> list[Row]:
    """Print the roll-over figures with their same-run baselines."""
    import logging

    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR))
    big = run(1000, 0.05, threads=32, rate=600_000, limit=None)
    print(f"{'roll-over, 1,000 items, 50 ms/request':42}{'hooks':>9}{'serial':>9}{'ratio':>7}")
    print(
        f"{'wall time (s)':42}{big['hooks_s']:>9.1f}{big['serial_s']:>9.1f}"
        f"{big['serial_s'] / big['hooks_s']:>7.1f}   target >= 8x"
    )
    print(
        f"{'API requests per moved item':42}{big['calls'] / big['moved']:>9.3f}"
        f"   ({big['puts']:.0f} PUT of {big['calls']:.0f}; target <= 1.05 + pagination)"
    )
    limited = run(200, 0.0, threads=16, rate=600, limit=600)
    floor = limited["calls"] / 10.0  # 600/min = 10 requests/s
    print(
        f"{'same, 200 items, 600 requests/min limit':42}{limited['hooks_s']:>9.1f}"
        f"{floor:>9.1f}{limited['hooks_s'] / floor:>7.2f}   floor = requests / 10 per s; "
        f"target <= 1.15; moved {limited['moved']:.0f}, 429s {limited['errors']:.0f}"
    )

    speedup = big["serial_s"] / big["hooks_s"]
    per_item = big["calls"] / big["moved"]
    return [
        Row(
            3,
            "roll-over of 1,000 items, 50 ms per request",
            f"{big['hooks_s']:.1f} s, {big['moved']:.0f} moved",
            f"serial python-gitlab {big['serial_s']:.1f} s",
            f"{speedup:.1f}x",
            ">= 8x",
            speedup >= 8 and big["moved"] == 1000,
        ),
        Row(
            3,
            "API requests per moved item",
            f"{per_item:.3f}",
            f"{big['puts']:.0f} PUT + {big['calls'] - big['puts']:.0f} reads",
            "",
            "<= 1.05 + pagination",
            big["puts"] / big["moved"] <= 1.05,
        ),
        Row(
            4,
            "same, 200 items, 600 requests/min limit",
            f"{limited['hooks_s']:.1f} s, {limited['errors']:.0f} refused",
            f"floor {floor:.1f} s",
            f"{limited['hooks_s'] / floor:.2f}",
            "<= 1.15 x floor, none failed",
            limited["hooks_s"] <= 1.15 * floor and limited["moved"] == 200,
        ),
    ]


if __name__ == "__main__":
    main()
