"""Reconciliation of a 2,000-issue backlog (every item joined a sprint while the hook was
disabled) under a 600 requests/minute limit, stopped after 1,000 items and resumed by a new
process from its cursor; beside the floor the limit sets for the requests it made.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

from pydantic import SecretStr

from bench.report import Row
from hooks.catchup.cli import reconcile
from hooks.service.config import Settings
from hooks.testing.seeds import ON_TRACK_RULES, sprint_seed
from hooks.testing.sim_faults import Fault
from hooks.testing.simulator import Simulator, SimulatorThread

LIMIT = 600  # GitLab's, per minute
BUDGET = 590  # the service's shared budget, set just below it


def run(size: int) -> dict[str, float]:
    sim = Simulator(
        sprint_seed([{"title": f"Item {n}", "milestone": "Sprint 1"} for n in range(size)])
    )
    sim.faults.add(Fault(user="hooks-bot", rate_limit_per_minute=LIMIT))
    with SimulatorThread(sim), tempfile.TemporaryDirectory() as tmp:
        hook_id = sim.add_hook("http://127.0.0.1:9/webhook", "s", project="demo/product")
        rules = Path(tmp) / "rules"
        rules.mkdir()
        (rules / "r.yaml").write_text(ON_TRACK_RULES)
        settings = Settings(
            _env_file=None,
            database_url=f"sqlite:///{tmp}/hooks.db",
            rules_dir=rules,
            gitlab_url=sim.url,
            gitlab_token=SecretStr("sim-token"),
            gitlab_rate_per_minute=BUDGET,
            gitlab_timeout_s=30,
            log_level="ERROR",
            subject_hourly_cap=1_000_000,
            watchdog_interval_s=0,
            reconcile_interval_s=0,
            watched_hooks=f"demo/product:{hook_id}",
        )
        started = time.perf_counter()
        # Each asyncio.run is a process of its own: store, gateway, executor; one sweep; stop.
        [first] = asyncio.run(reconcile(settings, None, size // 2))
        restart_at = time.perf_counter() - started
        [second] = asyncio.run(reconcile(settings, None, size * 2))
        elapsed = time.perf_counter() - started
        calls = sim.recorded(user="hooks-bot")
        puts: dict[str, int] = {}
        for c in calls:
            if c.method == "PUT":
                puts[c.path] = puts.get(c.path, 0) + 1
        on_track = sum("health::on track" in i["labels"] for i in sim.issues("demo/product"))
        return {
            "s": elapsed,
            "restart_at": restart_at,
            "first": first.applied,
            "second": second.applied,
            "finished": float(second.finished and not first.finished),
            "calls": len(calls),
            "429": sum(c.status == 429 for c in calls),
            "twice": sum(n > 1 for n in puts.values()),
            "on_track": on_track,
        }


def main() -> list[Row]:
    """Print the backlog figures with the floor the rate limit sets; return the summary row."""
    import logging

    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR))
    f = run(2000)
    floor = f["calls"] / (LIMIT / 60)
    print(f"{'reconcile 2,000 issues, 600 requests/min':44}{'hooks':>9}{'floor':>9}{'ratio':>7}")
    print(
        f"{'wall time (s), restart after 1,000 items':44}{f['s']:>9.1f}{floor:>9.1f}"
        f"{f['s'] / floor:>7.2f}   floor = requests / 10 per s"
    )
    print(
        f"{'API requests per item':44}{f['calls'] / 2000:>9.3f}"
        f"   ({f['calls']:.0f} requests, budget {BUDGET}/min)"
    )
    print(
        f"applied {f['first']:.0f} + {f['second']:.0f} (restart at {f['restart_at']:.0f} s, "
        f"resumed from the cursor, finished: {bool(f['finished'])}); items On Track "
        f"{f['on_track']:.0f}; written twice {f['twice']:.0f}; 429 answers {f['429']:.0f}"
    )
    once = f["429"] == 0 and f["twice"] == 0 and f["on_track"] == 2000 and f["finished"] == 1
    return [
        Row(
            12,
            "reconcile 2,000 dropped changes, 600 requests/min, restart halfway",
            f"{f['s']:.1f} s, {f['429']:.0f} 429s, {f['twice']:.0f} written twice",
            f"limit's floor {floor:.1f} s",
            f"{f['s'] / floor:.2f}",
            "no 429 reaches an action; each effect once",
            once,
        )
    ]


if __name__ == "__main__":
    main()
