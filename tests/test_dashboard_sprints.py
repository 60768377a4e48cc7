"""Sprint health over time and roll-overs per sprint, derived from the actions ledger."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from pydantic import SecretStr

from hooks.dashboard.sprint_health import rollovers, sprint_health
from hooks.storage.actions import ActionLog, ActionRow
from hooks.testing.simulator import Simulator
from tests.e2e import as_user, close_milestone, serve_rule_pack, settle, store_of

ADMIN = "admin-token-0123"
DAY1 = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)


def row(
    day: int, action: str, subject: str, result: dict[str, Any] | None = None, **params: Any
) -> ActionRow:
    when = DAY1 + timedelta(days=day)
    return ActionRow(
        key=f"{action}-{subject}-{day}",
        rule="r",
        action=action,
        subject=subject,
        params=params,
        status="done",
        attempts=1,
        result=result,
        error=None,
        delivery_id=None,
        run_key=None,
        created_at=when,
        updated_at=when,
    )


HISTORY = [
    row(0, "set_health", "p#1", status="on_track", sprint="Sprint 42"),
    row(0, "set_health", "p#2", status="on_track", sprint="Sprint 42"),
    row(1, "set_health", "p#2", status="at_risk", sprint="Sprint 42"),
    row(2, "set_health", "p#1", status="needs_attention", sprint="Sprint 42"),
    row(3, "move_to_milestone", "p#2", from_title="Sprint 42", milestone_title="Sprint 43"),
    # A roll-over plans the health change while the item is still in the sprint it leaves.
    row(3, "set_health", "p#2", status="needs_attention", sprint="Sprint 42"),
]


def test_each_day_counts_the_latest_health_of_the_items_in_each_sprint() -> None:
    [s43, s42] = sprint_health(HISTORY, date(2026, 11, 19), days=4)

    assert (s42.sprint, s43.sprint) == ("Sprint 42", "Sprint 43")
    assert s42.counts == {
        "on_track": [2, 1, 0, 0],
        "needs_attention": [0, 0, 1, 1],
        "at_risk": [0, 1, 1, 0],
    }
    assert s43.now == {"on_track": 0, "needs_attention": 1, "at_risk": 0}


def test_the_milestone_the_executor_saw_wins_over_the_planned_one() -> None:
    moved = row(
        1, "set_health", "p#1", {"milestone": "Sprint 43"}, status="at_risk", sprint="Sprint 42"
    )

    [s43, s42] = sprint_health([HISTORY[0], moved], date(2026, 11, 17), days=2)

    assert (s43.sprint, s43.counts["at_risk"]) == ("Sprint 43", [0, 1])
    assert s42.counts["on_track"] == [1, 0]


def test_roll_overs_are_counted_per_sprint_left_once_per_item() -> None:
    again = row(4, "move_to_milestone", "p#2", from_title="Sprint 42", milestone_title="Sprint 43")
    stay = row(4, "move_to_milestone", "p#3", from_title="Sprint 43", milestone_title="Sprint 43")

    assert rollovers([*HISTORY, again, stay]) == [("Sprint 42", 1)]


@pytest.fixture
async def service(gitlab_sim: Simulator, tmp_path: Path) -> AsyncIterator[TestServer]:
    server = await serve_rule_pack(gitlab_sim, tmp_path, admin_token=SecretStr(ADMIN))
    yield server
    await server.close()


async def test_the_sprint_page_charts_the_health_the_bot_set_and_the_roll_overs(
    gitlab_sim: Simulator, service: TestServer
) -> None:
    issue = as_user(gitlab_sim, "alice").projects.get("demo/product", lazy=True).issues.get(1)
    issue.labels = [*issue.labels, "blocked"]
    issue.save()
    await settle(gitlab_sim, store_of(service))
    recorded = await ActionLog(store_of(service)).for_subject("demo/product#1")
    close_milestone(gitlab_sim, "Sprint 42")
    await settle(gitlab_sim, store_of(service))

    jar = aiohttp.CookieJar(unsafe=True)  # the service listens on an IP address
    async with aiohttp.ClientSession(base_url=str(service.make_url("/")), cookie_jar=jar) as http:
        await http.post("/ui/login", data={"token": ADMIN})
        page = await (await http.get("/ui/sprints")).text()

    [health] = [a for a in recorded if a.action == "set_health"]
    assert health.params["sprint"] == "Sprint 42"
    sprint = page.split("<h2>Sprint 42</h2>")[1].split("</section>")[0]
    assert re.search(r'class="needs_attention">Needs Attention: \d+', sprint)
    assert sprint.count("<polyline") == 3
    rolled = page.split("<h2>Sprint 43</h2>")[1].split("</section>")[0]
    assert re.search(r'class="needs_attention">Needs Attention: [1-9]', rolled)
    bars = page.split("Roll-overs per sprint")[1]
    assert re.search(r">Sprint 42</text>\s*<rect [^>]*/>\s*<text [^>]*>[1-9]\d*</text>", bars)
