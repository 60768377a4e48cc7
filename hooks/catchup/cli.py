"""`hooks reconcile [--since TIME]`: one reconciliation sweep now, from the command line."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import UTC, datetime
from typing import Any

from hooks.catchup.reconcile_run import ScopeReport
from hooks.gitlab.gateway import error_message
from hooks.processing.worker import utcnow
from hooks.service.config import Settings
from hooks.service.logs import configure_logging
from hooks.service.metrics import Metrics
from hooks.service.runtime import Runtime
from hooks.storage.store import open_store


def parse_since(text: str) -> datetime:
    """An ISO 8601 time ('2026-11-24T08:00Z', '2026-11-24'); UTC when no zone is given."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO 8601 time, e.g. 2026-11-24T08:00Z"
        ) from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def reconcile(
    settings: Settings, since: datetime | None, max_items: int | None
) -> list[ScopeReport]:
    """Run one sweep with this process's own gateway, executor and ledger."""
    store = open_store(settings.database_url)
    runtime: Runtime | None = None
    try:
        await store.migrate()
        runtime = Runtime(settings, store, Metrics(), now=utcnow)
        errors = runtime.rules.load(utcnow())
        if errors:
            raise RuntimeError("rules do not load:\n" + "\n".join(errors))
        jobs = runtime.watch_jobs
        if jobs is None:
            raise RuntimeError("reconciliation reads GitLab: set HOOKS_GITLAB_TOKEN")
        await runtime.resolve_bot()
        await jobs.record_configured()
        return await jobs.reconciler.sweep(since=since, max_items=max_items)
    finally:
        if runtime is not None:
            await runtime.close()
        await store.close()


def cmd_reconcile(args: argparse.Namespace) -> int:
    """Print what the sweep did per watched scope; 1 when a scope stopped on an error."""
    settings = Settings()
    configure_logging(
        level=settings.log_level, fmt=settings.log_format, secrets=settings.secret_values()
    )
    try:
        reports = asyncio.run(reconcile(settings, args.since, args.max_items))
    except Exception as exc:
        print(f"hooks: {error_message(exc)}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps([r.as_dict() for r in reports], indent=2))
    elif not reports:
        print("no watched webhooks: run hooks install-webhook, or set HOOKS_WATCHED_HOOKS")
    for r in [] if args.json else reports:
        state = "done" if r.finished else "more to do (resumes at the cursor)"
        print(
            f"{r.scope}: {r.applied} applied, {r.skipped} skipped (covered), "
            f"{r.not_reconcilable} not reconcilable, {r.failed} failed; "
            f"cursor {r.cursor or '-'}; {state}"
        )
        for error in r.errors:
            print(f"    {error}")
    return 1 if any(r.errors for r in reports) else 0


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add `hooks reconcile` to the command line."""
    parser = sub.add_parser(
        "reconcile",
        help="catch up on what GitLab dropped (issues and milestones changed since TIME)",
        description="Runs the rules once on every change no stored delivery covers.",
    )
    parser.add_argument(
        "--since",
        type=parse_since,
        metavar="TIME",
        help="sweep changes from TIME (default: each scope's cursor, else its last delivery)",
    )
    parser.add_argument(
        "--max-items", type=int, help="changes to apply in this run (HOOKS_RECONCILE_MAX_ITEMS)"
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per scope")
    parser.set_defaults(handler=cmd_reconcile)
