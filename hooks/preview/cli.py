"""`hooks preview NEW_RULES_DIR`: what a rule change would have done to the recorded history."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import gitlab
from sqlalchemy.exc import DBAPIError

from hooks.preview.reading import settings_reader
from hooks.preview.report import PreviewReport
from hooks.preview.run import preview
from hooks.preview.validate import validate_folder
from hooks.rules.loader import RuleErrors, load_rules
from hooks.rules.model import RuleSet
from hooks.rulesource.fetch import RulesRefused
from hooks.rulesource.standalone import live_rules
from hooks.schedules.triggers import parse_duration
from hooks.service.config import Settings
from hooks.storage.engine import DatabaseUnusable, database_unusable
from hooks.storage.store import open_store

# 0: no difference; 1: differences; 2: the new rules do not validate; 3: cannot run at all.
NO_DIFFERENCE, DIFFERENCES, INVALID, CANNOT_RUN = 0, 1, 2, 3


def since_arg(text: str) -> timedelta:
    """'14d', '36h', '2w' as a window length (argparse type)."""
    found = parse_duration(text)
    if not isinstance(found, timedelta) or found <= timedelta(0):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a duration: a number and s, m, h, d or w, e.g. 14d"
        )
    return found


def render(report: PreviewReport, fmt: str) -> str:
    if fmt == "json":
        return report.to_json()
    return report.to_markdown() if fmt == "markdown" else report.to_text()


async def _preview(settings: Settings, live: RuleSet, candidate: RuleSet, since: timedelta) -> Any:
    store = open_store(settings.database_url)
    try:
        try:
            await store.migrate()
        except (DBAPIError, OSError) as exc:
            raise database_unusable(exc) from exc
        reader, online = settings_reader(settings)
        return await preview(
            store,
            reader,
            live,
            candidate,
            since=since,
            now=datetime.now(UTC),
            gitlab_url=settings.gitlab_url,
            default_tz=settings.timezone,
            online=online,
        )
    finally:
        await store.close()


def cmd_preview(args: argparse.Namespace) -> int:
    """Validate the new rules, then plan the window's history with both sets and diff."""
    settings = Settings()
    now = datetime.now(UTC)
    since: timedelta = args.since or timedelta(days=settings.preview_days)
    validation = validate_folder(Path(args.new_rules_dir))
    if validation.rules is None or not validation.ok:
        for error in validation.errors:
            print(error, file=sys.stderr)
        print(f"{len(validation.errors)} error(s)", file=sys.stderr)
        if args.format == "json":
            print(PreviewReport.invalid(validation.errors, since=now - since, now=now).to_json())
        return INVALID
    try:
        live = live_rules(settings) if settings.rules_project else load_rules(settings.rules_dir)
    except (RuleErrors, RulesRefused) as exc:
        where = settings.rules_project or settings.rules_dir
        print(f"hooks: the live rules ({where}) do not load:", file=sys.stderr)
        for problem in exc.errors:
            print(f"  {problem}", file=sys.stderr)
        return CANNOT_RUN
    except (gitlab.exceptions.GitlabError, ValueError, OSError) as exc:
        print(f"hooks: the live rules ({settings.rules_project}): {exc}", file=sys.stderr)
        return CANNOT_RUN
    try:
        report: PreviewReport = asyncio.run(_preview(settings, live, validation.rules, since))
    except (DatabaseUnusable, DBAPIError) as exc:
        reason = exc if isinstance(exc, DatabaseUnusable) else database_unusable(exc)
        print(f"hooks: {reason}", file=sys.stderr)
        return CANNOT_RUN
    report.examples_passed = validation.examples_passed
    print(render(report, args.format))
    return DIFFERENCES if report.has_differences else NO_DIFFERENCE


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add `hooks preview` to the command line."""
    parser = sub.add_parser(
        "preview",
        help="what new rules would have done to the recorded history, beside the live rules",
        description=(
            "Plans every delivery recorded in the window and every scheduled fire in it with "
            "the live rules (HOOKS_RULES_DIR) and with NEW_RULES_DIR; reads GitLab read-only. "
            "Exit 0: no difference; 1: differences; 2: the new rules do not validate; "
            "3: the preview cannot run (database, live rules)."
        ),
    )
    parser.add_argument("new_rules_dir", metavar="NEW_RULES_DIR")
    parser.add_argument(
        "--since", type=since_arg, help="window length, e.g. 14d (default: HOOKS_PREVIEW_DAYS)"
    )
    parser.add_argument("--format", choices=["text", "markdown", "json"], default="text")
    parser.set_defaults(handler=cmd_preview)
