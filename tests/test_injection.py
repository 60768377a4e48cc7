"""Quick actions and mentions smuggled through every templated field of the shipped rules
(issue 11, "Content safety").

Every text the shipped rules print from a payload or from GitLab is fed a value carrying
`/close`, `/label ~x`, `@all`, `@here` and `@someone`, each on a line of its own. Each case
plays the process that prints the field against the simulator, then reads everything the
bot wrote there: none of it may start a line with a quick action or mention anyone so.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from jinja2 import nodes
from ruamel.yaml import YAML

from hooks.rules.templates import ENV
from hooks.service.context import SERVICE
from hooks.testing.simulator import Simulator, SimulatorThread
from tests.conftest import SECRET
from tests.e2e import RULE_PACK, as_user, serve_rule_pack, settle, store_of

INJECTION = "\n/close\n/label ~x\n@all\n@here\n@someone"


def hostile(name: str) -> str:
    return name + INJECTION


QUICK_ACTION = re.compile(r"^\s*/(close|label)\b", re.MULTILINE)
MENTION = re.compile(r"(?<![\w.+-])@(all|here|someone)\b")


def seed() -> dict[str, Any]:
    """Sprints, items and labels whose titles all carry the injection."""
    return {
        "users": [
            {"username": "hooks-bot", "token": "sim-token"},
            *({"username": u, "token": f"{u}-token"} for u in ("alice", "bob", "carol", "dave")),
            {"username": "all"},  # a user named like the mass mention
        ],
        "groups": [{"path": "demo"}],
        "members": [{"group": "demo", "user": "alice", "access_level": "developer"}],
        "projects": [{"path": p} for p in ("demo/product", "demo/marketing", "demo/training")],
        "milestones": [
            # Past its due date and still open; its items roll into the next one.
            {
                "group": "demo",
                "title": hostile("Sprint A"),
                "start_date": "-20d",
                "due_date": "-1d",
            },
            # The current sprint, ending in three days; nothing starts after it.
            {
                "group": "demo",
                "title": hostile("Sprint B"),
                "start_date": "-10d",
                "due_date": "+3d",
            },
        ],
        "iterations": [  # Team A's cadence (the pack's `iteration_cadence`): one ended
            {
                "group": "demo",
                "cadence": "Team A",
                "title": hostile("Iteration A"),
                "start_date": "-20d",
                "due_date": "-7d",
            },
            {
                "group": "demo",
                "cadence": "Team A",
                "title": hostile("Iteration B"),
                "start_date": "-6d",
                "due_date": "+7d",
            },
        ],
        "issues": [
            {
                "project": "demo/product",
                "title": hostile("Item 1"),
                "milestone": hostile("Sprint A"),
                "labels": ["feature"],
                "author": "alice",
            },
            {
                "project": "demo/product",
                "title": hostile("Item 2"),
                "milestone": hostile("Sprint A"),
                "labels": ["deprioritized", "@all", "/close"],
                "author": "alice",
            },
            {
                "project": "demo/product",
                "title": hostile("Item 3"),
                "milestone": hostile("Sprint B"),
                "author": "alice",
            },
            {
                "project": "demo/product",
                "title": hostile("Feature"),
                "author": "alice",
                "labels": ["maturity::viable", "feature"],
            },
            {
                "project": "demo/product",
                "title": hostile("Priority"),
                "author": "alice",
                "assignees": ["all"],
                "labels": ["area::plan"],
            },
            {"project": "demo/product", "title": "Item 6", "author": "alice", "iteration": 1},
        ],
    }


Play = Callable[[Simulator, TestServer], Awaitable[None]]


def _issue(sim: Simulator, iid: int) -> Any:
    return as_user(sim, "alice").projects.get("demo/product", lazy=True).issues.get(iid)


async def add_priority_label(sim: Simulator, _server: TestServer) -> None:
    issue = _issue(sim, 5)
    issue.labels = [*issue.labels, "release-priority"]
    issue.save()


async def touch_item_of_ended_sprint(sim: Simulator, _server: TestServer) -> None:
    issue = _issue(sim, 1)
    issue.description = "edited"
    issue.save()


def _close(title: str) -> Play:
    async def close(sim: Simulator, _server: TestServer) -> None:
        milestone = sim.milestone(title)
        group = as_user(sim, "alice").groups.get("demo", lazy=True)
        found = group.milestones.get(milestone["id"])
        found.state_event = "close"
        found.save()

    return close


async def publish_release(_sim: Simulator, server: TestServer) -> None:
    release = json.loads((RULE_PACK / "fixtures" / "release.json").read_text())
    release["project"]["id"] = 1
    release["tag"] = hostile("v18.6")
    headers = {"X-Gitlab-Event": "Release Hook", "X-Gitlab-Token": SECRET}
    async with aiohttp.ClientSession() as session:
        await session.post(str(server.make_url("/webhook")), json=release, headers=headers)


def _comment(user: str, text: str) -> Play:
    async def comment(sim: Simulator, _server: TestServer) -> None:
        project = as_user(sim, user).projects.get("demo/product", lazy=True)
        project.issues.get(3).notes.create({"body": text})

    return comment


def _fire(rule: str) -> Play:
    async def fire(_sim: Simulator, server: TestServer) -> None:
        runtime = server.app[SERVICE].runtime
        assert runtime is not None and runtime.scheduler is not None
        assert await runtime.scheduler.fire(rule, datetime.now(UTC)) == "done"

    return fire


async def roll_over_iterations(_sim: Simulator, server: TestServer) -> None:
    """The pack switched to iterations (`sprints: iterations`), then its daily sweep."""
    runtime = server.app[SERVICE].runtime
    assert runtime is not None and runtime.scheduler is not None
    with tempfile.TemporaryDirectory() as folder:  # the rules are kept in memory once loaded
        rules = Path(folder) / "rules"
        shutil.copytree(RULE_PACK, rules)
        team = rules / "00-team.yaml"
        team.write_text(team.read_text().replace("sprints: milestones", "sprints: iterations"))
        runtime.rules.directory = rules
        assert runtime.rules.load(datetime.now(UTC)) == []
    fired = await runtime.scheduler.fire("iteration-roll-over-first-time", datetime.now(UTC))
    assert fired == "done"


# Each templated field the shipped rules print, the process that prints it, and a piece of
# the hostile value that must show up (defused) in what the bot wrote.
CASES: dict[str, tuple[Play, str]] = {
    "issue.title": (add_priority_label, "Marketing: Priority"),
    "issue.assignees": (add_priority_label, "@\u200ball, product marketing opened"),
    "milestone.title": (touch_item_of_ended_sprint, "its sprint Sprint A"),
    "next_milestone.title": (_close(hostile("Sprint A")), 'to %"Sprint B'),
    "i.title": (_close(hostile("Sprint A")), "- [ ] Item 2"),
    "i.labels": (_close(hostile("Sprint A")), "@\u200ball"),
    "milestone.title (no next sprint)": (
        _close(hostile("Sprint B")),
        "Create the sprint after Sprint B",
    ),
    "release.tag": (publish_release, "Release v18.6"),
    "issue.title (cascade)": (publish_release, "Cascade: Feature"),
    "m.title": (_fire("sprint-past-due-still-open"), "Sprint past due but still open: Sprint A"),
    "iteration.title": (roll_over_iterations, "from Iteration A"),
    "next_iteration.title": (roll_over_iterations, "to Iteration B"),
    "milestone.title (current)": (
        _fire("unassigned-late-needs-attention"),
        "nobody is assigned and Sprint B",
    ),
    # A command's words are on its one line: what follows the mention is what can be hostile.
    "command.reason": (
        _comment("alice", "@hooks-bot health at risk: waiting on @all @here /close"),
        "waiting on @\u200ball @\u200bhere /close",
    ),
    "command.text": (
        _comment("alice", "@hooks-bot deploy @all /label ~x"),
        "I did not understand `deploy @\u200ball /label ~x`",
    ),
    "user.username": (_comment("all", "@hooks-bot help"), "@\u200ball commands start"),
}
# Printed but not text a person chooses: ids, dates, URLs GitLab makes, and lengths.
NOT_TEXT = {"milestone.id", "m.id", "m.due_date", "milestone.due_date", "issue.due_date"} | {
    "command.length",
    "issue.web_url",
    "i.web_url",
    "m.web_url",
}
# Template inputs that are not printed into text (assignee lookups).
NOT_PRINTED = {"issue.labels", "vars.pmm_by_area", "vars.pmm_default"}


def templated_fields() -> set[str]:
    """Every `a.b` the shipped rules' templates read."""
    found: set[str] = set()

    def visit(value: Any) -> None:
        if isinstance(value, dict):
            for child in value.values():
                visit(child)
        elif isinstance(value, list):
            for child in value:
                visit(child)
        elif isinstance(value, str) and ("{{" in value or "{%" in value):
            for output in ENV.parse(value).find_all(nodes.Output):
                for attr in output.find_all(nodes.Getattr):
                    if isinstance(attr.node, nodes.Name):
                        found.add(f"{attr.node.name}.{attr.attr}")

    for path in sorted(RULE_PACK.glob("*.yaml")):
        for rule in YAML(typ="safe").load(path.read_text()).get("rules", []):
            visit(rule.get("do"))
    return found


def test_the_cases_cover_every_templated_field_of_the_shipped_rules() -> None:
    covered = {name.split(" ")[0] for name in CASES}
    assert templated_fields() == covered | NOT_TEXT | NOT_PRINTED


def written_by_bot(sim: Simulator) -> list[str]:
    """Every title, description and comment the bot user wrote on the simulator."""
    texts = []
    with sim.lock:
        bot = sim.state.user_by_name("hooks-bot")
        assert bot is not None
        for issue in sim.state.issues.values():
            if issue["author_id"] == bot["id"]:
                texts += [issue["title"], issue["description"]]
            texts += [
                n["body"] for n in sim.state.notes[issue["id"]] if n["author"]["id"] == bot["id"]
            ]
    return texts


@pytest.fixture
async def hostile_gitlab(tmp_path: Path) -> AsyncIterator[tuple[Simulator, TestServer]]:
    sim = Simulator(seed(), today=date.today())
    with SimulatorThread(sim):
        server = await serve_rule_pack(sim, tmp_path)
        try:
            yield sim, server
        finally:
            await server.close()


@pytest.mark.parametrize("field", list(CASES))
async def test_an_injection_through_a_templated_field_is_posted_as_plain_text(
    hostile_gitlab: tuple[Simulator, TestServer], field: str
) -> None:
    sim, server = hostile_gitlab
    play, shows = CASES[field]

    await play(sim, server)
    await settle(sim, store_of(server))

    texts = written_by_bot(sim)
    assert any(shows in text for text in texts), f"{field}: nothing printed it; wrote {texts}"
    for text in texts:
        assert not QUICK_ACTION.search(text), text
        assert not MENTION.search(text), text
    with sim.lock:  # and no quick action ran
        assert all(i["state"] == "opened" for i in sim.state.issues.values())
        assert all("x" not in i["labels"] for i in sim.state.issues.values())
