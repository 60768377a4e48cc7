"""`hooks demo`: the simulator with a small team, the service on it, every process played.

The first thing a newcomer runs: it needs no GitLab, no token and no configuration, and
prints, step by step, what a team member did and what the bot did in answer.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import re
import shutil
import sys
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import gitlab
import structlog
from aiohttp import web
from pydantic import SecretStr

from hooks.actions.comment import preview as preview  # `hooks demo`'s wording of a comment
from hooks.actions.registry import describe
from hooks.rules.loader import RuleErrors, load_rules
from hooks.service.app import create_app
from hooks.service.config import Settings
from hooks.service.context import SERVICE
from hooks.storage.store import Store

SECRET = "demo-webhook-secret"


def _subject_order(subject: str | None) -> tuple[str, int]:
    """demo/product#2 before demo/product#10; actions without a subject first."""
    project, _, iid = (subject or "").rpartition("#")
    return (project, int(iid)) if iid.isdigit() else (subject or "", 0)


def try_it_yourself() -> str:
    """The command that starts the simulator for the README's "Try your own rules offline"."""
    script = Path(sys.executable).with_name("hooks")
    if script.exists():
        try:
            command = str(script.relative_to(Path.cwd()))
        except ValueError:
            command = str(script)
    else:
        command = f"{sys.executable} -m hooks"
    return (
        f"{command} simulate --port 9000 --hook-url http://127.0.0.1:8080/webhook"
        " --hook-secret s3cret"
    )


def with_work_item_status(rules_dir: Path, workdir: Path) -> Path:
    """The rules with the pack's optional work item status rules switched on (the simulator
    plays a Premium GitLab 18.2+); rules without that switch are used as they are."""
    switch = re.compile(r"^(\s*work_item_status:\s*)false\b", re.MULTILINE)
    files = sorted(rules_dir.glob("*.y*ml"))
    if not any(switch.search(f.read_text(encoding="utf-8")) for f in files):
        return rules_dir
    copy = workdir / "rules"
    shutil.copytree(rules_dir, copy)
    for file in sorted(copy.glob("*.y*ml")):
        text = file.read_text(encoding="utf-8")
        file.write_text(switch.sub(r"\1true", text), encoding="utf-8")
    return copy


class Demo:
    """The simulator and the service, side by side in one process."""

    def __init__(self, rules_dir: Path, workdir: Path, out: Callable[[str], None]) -> None:
        # Imported here, not at the top: `hooks serve` loads this module for its command
        # line and should not carry the simulator in memory.
        from hooks.testing.simulator import Simulator

        self.sim = Simulator()
        self.rules_dir = with_work_item_status(rules_dir, workdir)
        self.workdir = workdir
        self.out = out
        self.seen_audit = 0
        # Lines are sorted by subject, then rule file order, then the action's place in the
        # rule: actions run in parallel, so the audit trail's own order varies run to run.
        rules = load_rules(rules_dir).rules
        self.rule_order = {rule.name: index for index, rule in enumerate(rules)}
        self.step_order = {
            (rule.name, step.kind): index
            for rule in rules
            for index, step in reversed(list(enumerate(rule.do)))
        }

    def as_user(self, username: str) -> gitlab.Gitlab:
        return gitlab.Gitlab(self.sim.url, private_token=self.sim.token_for(username), timeout=10)

    async def run(self) -> None:
        from hooks.testing.chat_receiver import SLACK, ChatReceiver
        from hooks.testing.simulator import SimulatorThread

        # A stand-in for the team's Slack: the retro reminder is posted there too.
        self.chat = ChatReceiver()
        chat = web.AppRunner(self.chat.app(), access_log=None)
        await chat.setup()
        chat_site = web.TCPSite(chat, "127.0.0.1", 0)
        await chat_site.start()
        chat_port = chat_site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        team_chat = SecretStr(f"slack+http://127.0.0.1:{chat_port}{SLACK}")
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
                notify_targets={"team-chat": team_chat},
            )
            app = create_app(settings)
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            self.webhook_url = f"http://127.0.0.1:{port}/webhook"
            self.sim.add_hook(
                self.webhook_url,
                SECRET,
                group="demo",
                note_events=True,
                confidential_note_events=True,
                emoji_events=True,
            )
            self.store: Store = app[SERVICE].store
            self.app = app
            self.out(f"GitLab simulator at {self.sim.url}; service at http://127.0.0.1:{port}")
            self.out(f"rules from {self.rules_dir}\n")
            try:
                await self.play()
            finally:
                await runner.cleanup()
                await chat.cleanup()

    async def step(self, title: str, action: Callable[[], Any]) -> None:
        self.out(f"== {title}")
        await asyncio.to_thread(action)
        await self.settled()
        await self.report()

    async def settled(self) -> None:
        """Every webhook delivered and processed, echoes included (so output is stable)."""
        from hooks.testing.harness import settle

        await settle(self.sim, self.store)

    async def report(self, also: list[str] | None = None) -> None:
        """What the bot did since the last report, then `also` (what reached the chat)."""
        lines: list[tuple[tuple[Any, ...], str]] = []
        async with self.store.engine.connect() as conn:
            from sqlalchemy import select

            from hooks.storage.tables import audit

            rows = (
                await conn.execute(
                    select(audit).where(audit.c.id > self.seen_audit).order_by(audit.c.id)
                )
            ).all()
        for row in rows:
            self.seen_audit = max(self.seen_audit, row.id)
            detail = json.loads(row.detail)
            if row.kind == "event" and row.outcome == "ignored":
                line = f"   (echo of the bot's own change ignored: {detail['reason']})"
                lines.append(((2,), line))
            elif (
                row.kind == "action"
                and row.outcome in ("done", "dry_run")
                and not detail.get("earlier")  # done by an earlier delivery: shown there
            ):
                order = (
                    0,
                    _subject_order(row.subject),
                    self.rule_order.get(row.rule, len(self.rule_order)),
                    self.step_order.get((row.rule, detail["action"]), 0),
                )
                lines.append((order, f"   bot [{row.rule}] {describe(detail, row.subject)}"))
            elif row.kind == "rule" and row.outcome == "error":
                line = f"   rule {row.rule} could not act: {detail.get('error')}"
                lines.append(((1,), line))
        shown = [line for _order, line in sorted(lines)] + (also or [])
        self.out("\n".join(shown) if shown else "   (no rule acted)")
        self.out("")

    async def play(self) -> None:
        """Every process of the handbook table, in its order (README, "What it does")."""

        def product(who: str) -> Any:
            return self.as_user(who).projects.get("demo/product", lazy=True)

        def update(who: str, iid: int, **changes: Any) -> Callable[[], None]:
            def change() -> None:
                issue = product(who).issues.get(iid)
                for key, value in changes.items():
                    setattr(issue, key, value)
                issue.save()

            return change

        def relabel(who: str, iid: int, add: str) -> Callable[[], None]:
            def change() -> None:
                issue = product(who).issues.get(iid)
                issue.labels = [*issue.labels, add]
                issue.save()

            return change

        sprint = self.sim.milestone("Sprint 42")
        carol = self.as_user("carol").users.list(username="carol")[0].id
        await self.step(
            "Health, On Track: alice plans demo/product#8 into Sprint 42",
            update("alice", 8, milestone_id=sprint["id"]),
        )
        await self.step(
            "Health, Needs Attention: alice labels demo/product#1 'blocked'",
            relabel("alice", 1, "blocked"),
        )
        await self.step(
            "Health, At Risk: carol takes over demo/product#7, past its due date",
            update("carol", 7, assignee_ids=[carol]),
        )
        await self.step("Roll-over: alice closes Sprint 42", lambda: self._close(sprint["id"]))
        await self.step(
            "Sister issue: alice marks demo/product#1 a release priority (kickoff decision)",
            relabel("alice", 1, "release-priority"),
        )
        await self.step(
            "Release checklist: bob creates the release milestone v18.6",
            lambda: product("bob").milestones.create({"title": "v18.6"}),
        )

        def ship_viable_feature() -> None:
            relabel("bob", 1, "maturity::viable")()
            # Publishing the release makes GitLab (here the simulator) send the Release Hook.
            product("bob").releases.create(
                {"tag_name": "v18.6", "name": "v18.6", "ref": "main", "description": "v18.6"}
            )

        await self.step(
            "Task cascade: bob marks demo/product#1 'maturity::viable' and publishes release v18.6",
            ship_viable_feature,
        )
        runtime = self.app[SERVICE].runtime
        assert runtime is not None and runtime.scheduler is not None
        scheduler = runtime.scheduler
        today = datetime.now(UTC).replace(hour=9, minute=0, second=0, microsecond=0)
        wednesday = today + timedelta(days=(2 - today.weekday()) % 7)
        self.out(f"== Retro reminder: the scheduler fires retro-reminder for {wednesday:%Y-%m-%d}")
        await scheduler.fire("retro-reminder", wednesday)
        await self.settled()
        await self.report(
            also=[
                f"   team-chat (Slack) got: {preview(message['text'].replace('*', ''))}"
                for message in self.chat.messages("slack")
            ]
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
        await self.step(
            "Work item status, In progress: carol labels demo/product#5 'doing'"
            " (rules/15-status.yaml, switched on here)",
            relabel("carol", 5, "doing"),
        )
        await self.step(
            "Work item status, Done: carol comments '/status Done' on demo/product#5;"
            " GitLab closes it",
            lambda: (
                product("carol").issues.get(5, lazy=True).notes.create({"body": "/status Done"})
            ),
        )
        await self.step(
            "Commands: alice comments '@hooks-bot health at risk: waiting on legal' on"
            " demo/product#2",
            lambda: (
                product("alice")
                .issues.get(2)
                .notes.create({"body": "@hooks-bot health at risk: waiting on legal"})
            ),
        )
        await self.on_iterations()

    async def on_iterations(self) -> None:
        """The pack's variant for teams whose sprints are iterations, switched by one var."""
        copy = self.workdir / "rules-on-iterations"
        shutil.copytree(self.rules_dir, copy)
        team = copy / "00-team.yaml"
        if not team.is_file() or "sprints: milestones" not in team.read_text():
            return  # rules of the user's own without the switch: no such scene
        team.write_text(team.read_text().replace("sprints: milestones", "sprints: iterations"))
        runtime = self.app[SERVICE].runtime
        assert runtime is not None and runtime.scheduler is not None
        runtime.rules.directory = copy
        runtime.rules.load(datetime.now(UTC))
        ended = datetime.now(UTC).replace(hour=5, minute=30, second=0, microsecond=0)
        ended += timedelta(days=7)  # the morning after Iteration 42 (Team A's cadence) ends
        self.out(
            "== Iterations: the team sets `sprints: iterations` in 00-team.yaml; the daily sweep"
            f" runs on {ended:%Y-%m-%d}, the morning after Iteration 42 ended"
        )
        await runtime.scheduler.fire("iteration-roll-over-first-time", ended)
        await self.settled()
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
    try:
        load_rules(rules_dir)
    except RuleErrors as exc:
        print(f"hooks: the rules in {rules_dir} do not load (see `hooks check {rules_dir}`):")
        print(exc)
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(Demo(rules_dir, Path(tmp), print).run())
    print('Every process played. Try your own changes (README, "Try your own rules offline"):')
    print(try_it_yourself())
    return 0


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add `hooks demo` to the `hooks` parser."""
    demo = sub.add_parser("demo", help="play every process on the simulator, print what happened")
    demo.add_argument("--rules", help="rules folder (default: ./rules)")
    demo.set_defaults(handler=cmd_demo)
