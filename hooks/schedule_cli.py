"""`hooks schedule`: each scheduled rule, its next fire times and its last run."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hooks.config import Settings
from hooks.ledger import Run, RunLedger
from hooks.rules.loader import RuleErrors, load_rules
from hooks.store import Store
from hooks.triggers import fire_times, zone_of


async def _last_runs(database_url: str, names: list[str]) -> dict[str, Run | None]:
    store = Store.open(database_url)
    try:
        await store.migrate()
        ledger = RunLedger(store)
        return {n: next(iter(await ledger.last_runs(n, 1)), None) for n in names}
    finally:
        await store.close()


def cmd_schedule(args: argparse.Namespace) -> int:
    """List scheduled rules with their next fire times in their own zone."""
    settings = Settings()
    try:
        rules = load_rules(Path(args.rules) if args.rules else settings.rules_dir)
    except RuleErrors as exc:
        print(exc, file=sys.stderr)
        return 1
    scheduled = [r for r in rules.scheduled() if r.on.schedule is not None]
    if not scheduled:
        print("no scheduled rules")
        return 0
    last = asyncio.run(_last_runs(settings.database_url, [r.name for r in scheduled]))
    now = datetime.now(UTC)
    for rule in scheduled:
        schedule = rule.on.schedule
        assert schedule is not None
        zone = zone_of(schedule, settings.timezone)
        print(f"{rule.name}  ({zone.key})")
        for when in fire_times(schedule, now, args.count, settings.timezone):
            print(f"    next  {when:%a %Y-%m-%d %H:%M %Z}")
        run = last[rule.name]
        if run is None:
            print("    last  never run")
        else:
            late = " (late)" if run.late else ""
            error = f": {run.error}" if run.error else ""
            print(
                f"    last  {run.scheduled_at.astimezone(zone):%Y-%m-%d %H:%M %Z} "
                f"{run.status}{late}{error}"
            )
    return 0


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add `hooks schedule` to the `hooks` parser."""
    schedule = sub.add_parser("schedule", help="scheduled rules: next fire times, last run")
    schedule.add_argument("--rules", help="rules folder (default: HOOKS_RULES_DIR)")
    schedule.add_argument("--count", type=int, default=3, help="how many fire times to show")
    schedule.set_defaults(handler=cmd_schedule)
