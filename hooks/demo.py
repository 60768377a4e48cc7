"""`hooks demo`: the simulator with a small team, the service on it, every process played.

The first thing a newcomer runs: it needs no GitLab, no token and no configuration, and
prints, step by step, what a team member did and what the bot did in answer.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import gitlab
import structlog
from aiohttp import web
from pydantic import SecretStr

from hooks.config import Settings
from hooks.store import Store
from hooks.web import SERVICE, create_app
from hooks.worker import utcnow

SECRET = "demo-webhook-secret"


def _describe(detail: dict[str, Any], subject: str | None) -> str:
    action, params, result = detail["action"], detail.get("params", {}), detail.get("result", {})
    if action == "set_health":
        return f"{subject}: health -> {params.get('status')}"
    if action in ("add_labels", "remove_labels"):
        verb = "+" if action == "add_labels" else "-"
        return f"{subject}: labels {' '.join(verb + x for x in params.get('labels', []))}"
    if action == "comment":
        first = (detail.get("text") or "").strip().splitlines()[0]
        return f'{subject}: comment "{first[:90]}"'
    if action == "move_to_milestone":
        return f"{subject}: milestone {params.get('from_title')} -> {params.get('milestone_title')}"
    if action == "create_issue":
        who = ", ".join("@" + a for a in params.get("assignees", [])) or "nobody"
        where = f"{result.get('project', params.get('project'))}#{result.get('iid', '?')}"
        linked = f", linked to {subject}" if result.get("linked") else ""
        return f'created {where} "{params.get("title")}" (assigned {who}{linked})'
    if action == "assign":
        return f"{subject}: assigned {', '.join('@' + u for u in params.get('usernames', []))}"
    return f"{subject}: {action} {json.dumps(params)}"


class Demo:
    """The simulator and the service, side by side in one process."""

    def __init__(self, rules_dir: Path, workdir: Path, out: Callable[[str], None]) -> None:
        # Imported here, not at the top: `hooks serve` loads this module for its command
        # line and should not carry the simulator in memory.
        from hooks.testing.simulator import Simulator

        self.sim = Simulator()
        self.rules_dir = rules_dir
        self.workdir = workdir
        self.out = out
        self.seen_audit = 0

    def as_user(self, username: str) -> gitlab.Gitlab:
        return gitlab.Gitlab(self.sim.url, private_token=self.sim.token_for(username), timeout=10)

    async def run(self) -> None:
        from hooks.testing.simulator import SimulatorThread

        with SimulatorThread(self.sim):
            settings = Settings(
                _env_file=None,
                database_url=f"sqlite:///{self.workdir / 'demo.db'}",
                webhook_secret=SECRET,
                rules_dir=self.rules_dir,
                gitlab_url=self.sim.url,
                gitlab_token=SecretStr(self.sim.bot_token),
                poll_interval_s=0.05,
                log_level="WARNING",
            )
            app = create_app(settings)
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            self.sim.add_hook(f"http://127.0.0.1:{port}/webhook", SECRET, group="demo")
            self.store: Store = app[SERVICE].store
            self.app = app
            self.out(f"GitLab simulator at {self.sim.url}; service at http://127.0.0.1:{port}")
            self.out(f"rules from {self.rules_dir}\n")
            try:
                await self.play()
            finally:
                await runner.cleanup()

    async def step(self, title: str, action: Callable[[], Any]) -> None:
        self.out(f"== {title}")
        from hooks.testing.harness import settle

        await asyncio.to_thread(action)
        await settle(self.sim, self.store)
        await self.report()

    async def report(self) -> None:
        lines = []
        async with self.store.engine.connect() as conn:
            from sqlalchemy import select

            from hooks.schema import audit

            rows = (
                await conn.execute(
                    select(audit).where(audit.c.id > self.seen_audit).order_by(audit.c.id)
                )
            ).all()
        for row in rows:
            self.seen_audit = max(self.seen_audit, row.id)
            detail = json.loads(row.detail)
            if row.kind == "event" and row.outcome == "ignored":
                lines.append(f"   (echo of the bot's own change ignored: {detail['reason']})")
            elif row.kind == "action" and row.outcome in ("done", "dry_run"):
                lines.append(f"   bot [{row.rule}] {_describe(detail, row.subject)}")
            elif row.kind == "rule" and row.outcome == "error":
                lines.append(f"   rule {row.rule} could not act: {detail.get('error')}")
        self.out("\n".join(lines) if lines else "   (no rule acted)")
        self.out("")

    async def play(self) -> None:
        def product(who: str) -> Any:
            return self.as_user(who).projects.get("demo/product", lazy=True)

        def relabel(who: str, iid: int, add: str) -> Callable[[], None]:
            def change() -> None:
                issue = product(who).issues.get(iid)
                issue.labels = [*issue.labels, add]
                issue.save()

            return change

        await self.step(
            "Health: alice labels demo/product#1 'blocked'", relabel("alice", 1, "blocked")
        )
        await self.step(
            "Sister issue: alice marks demo/product#1 a release priority (kickoff decision)",
            relabel("alice", 1, "release-priority"),
        )
        await self.step(
            "Release checklist: bob creates the release milestone v18.6",
            lambda: product("bob").milestones.create({"title": "v18.6"}),
        )
        await self.step(
            "Training: bob requests a topic in demo/training",
            lambda: (
                self.as_user("bob")
                .projects.get("demo/training", lazy=True)
                .issues.create({"title": "Topic: value stream analytics"})
            ),
        )
        await self.step(
            "Case study: carol labels demo/product#4 'case-study'",
            relabel("carol", 4, "case-study"),
        )
        sprint = self.sim.milestone("Sprint 42")
        await self.step(
            "Roll-over: alice closes Sprint 42",
            lambda: self._close(sprint["id"]),
        )
        runtime = self.app[SERVICE].runtime
        assert runtime is not None and runtime.scheduler is not None
        scheduler = runtime.scheduler
        today = datetime.now(UTC).replace(hour=9, minute=0, second=0, microsecond=0)
        wednesday = today + timedelta(days=(2 - today.weekday()) % 7)
        self.out(f"== Retro reminder: the scheduler fires retro-reminder for {wednesday:%Y-%m-%d}")
        await scheduler.fire("retro-reminder", wednesday)
        await self.report()

    def _close(self, milestone_id: int) -> None:
        milestone = self.as_user("alice").groups.get("demo", lazy=True).milestones.get(milestone_id)
        milestone.state_event = "close"
        milestone.save()


def cmd_demo(args: argparse.Namespace) -> int:
    """Play every process on the simulator and print what happened."""
    logging.getLogger("gitlab").setLevel(logging.ERROR)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR))
    rules_dir = Path(args.rules) if args.rules else Path("rules")
    if not rules_dir.is_dir():
        print(f"hooks: no rules folder at {rules_dir}; run from the repository or pass --rules")
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(Demo(rules_dir, Path(tmp), print).run())
    print(f"done at {utcnow():%H:%M:%S} UTC. Try it yourself: hooks simulate --hook-url ...")
    return 0


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add `hooks demo` to the `hooks` parser."""
    demo = sub.add_parser("demo", help="play every process on the simulator, print what happened")
    demo.add_argument("--rules", help="rules folder (default: ./rules)")
    demo.set_defaults(handler=cmd_demo)
