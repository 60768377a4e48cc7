"""`hooks schedule`: each scheduled rule, its next fire times and its last run."""

from __future__ import annotations

import argparse
import asyncio
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from hooks.rules.loader import RuleErrors, load_rules
from hooks.rules.model import RuleSet
from hooks.schedules.triggers import fire_times, zone_of
from hooks.service.config import Settings
from hooks.storage.runs import Run, RunLedger
from hooks.storage.store import open_store


@dataclass(frozen=True)
class ScheduledRule:
    """One scheduled rule as operators see it: its zone, next fire times, latest runs."""

    name: str
    zone: ZoneInfo
    next_times: list[datetime]
    last_runs: list[Run]


async def scheduled_rules(
    rules: RuleSet, ledger: RunLedger, now: datetime, *, count: int, runs: int, default_tz: str
) -> list[ScheduledRule]:
    """Each enabled schedule rule with its next `count` fire times and last `runs` runs."""
    found = []
    for rule in rules.scheduled():
        schedule = rule.on.schedule
        assert schedule is not None
        found.append(
            ScheduledRule(
                name=rule.name,
                zone=zone_of(schedule, default_tz),
                next_times=fire_times(schedule, now, count, default_tz),
                last_runs=await ledger.last_runs(rule.name, runs),
            )
        )
    return found


async def _overview(settings: Settings, rules: RuleSet, count: int) -> list[ScheduledRule]:
    store = open_store(settings.database_url)
    try:
        await store.migrate()
        return await scheduled_rules(
            rules,
            RunLedger(store),
            datetime.now(UTC),
            count=count,
            runs=1,
            default_tz=settings.timezone,
        )
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
    if not rules.scheduled():
        print("no scheduled rules")
        return 0
    for rule in asyncio.run(_overview(settings, rules, args.count)):
        zone = rule.zone
        print(f"{rule.name}  ({zone.key})")
        for when in rule.next_times:
            print(f"    next  {when:%a %Y-%m-%d %H:%M %Z}")
        if not rule.last_runs:
            print("    last  never run")
        else:
            run = rule.last_runs[0]
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
