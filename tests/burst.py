"""Bursts of real deliveries at `hooks serve` processes, and their effects counted on the simulator.

The deliveries are the `issue_open.json` fixture (GitLab's docs example) re-pointed, one per
issue, at the issues of a simulator project; the sender re-sends what was not acknowledged (same
Idempotency-Key) to whichever replica answers, as a load balancer in front of them would.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import select

from hooks.storage.store import Store
from hooks.storage.tables import audit, deliveries
from hooks.testing.serve_process import serve_environment
from hooks.testing.simulator import Simulator
from hooks.testing.waiting import NotInTime, eventually
from tests.conftest import SECRET, fixture_bytes
from tests.e2e import marked_notes

ITEMS = "load/items"  # the issues the deliveries are about
SISTERS = "load/sisters"  # where rules create issues


def seed(count: int) -> dict[str, Any]:
    """A simulator seed: the bot, alice, and `count` open issues `Item 1..count` in ITEMS."""
    return {
        "users": [
            {"username": "hooks-bot", "name": "Hooks Bot", "token": "sim-token"},
            {"username": "alice", "name": "Alice PMM", "token": "alice-token"},
        ],
        "groups": [{"path": "load"}],
        "projects": [{"path": ITEMS}, {"path": SISTERS}],
        "issues": [
            {"project": ITEMS, "title": f"Item {n}", "author": "alice"} for n in range(1, count + 1)
        ],
    }


def serve_env(
    sim: Simulator, database_url: str, rules: str, tmp_path: Path, **extra: str
) -> dict[str, str]:
    """The environment of a `hooks serve` acting on the simulator with one rule file."""
    rules_dir = tmp_path / "rules"
    rules_dir.mkdir(exist_ok=True)
    (rules_dir / "rules.yaml").write_text(rules)
    env = serve_environment(
        HOOKS_DATABASE_URL=database_url,
        HOOKS_WEBHOOK_SECRET=SECRET,
        HOOKS_RULES_DIR=str(rules_dir),
        HOOKS_GITLAB_URL=sim.url,
        HOOKS_GITLAB_TOKEN=sim.bot_token,
        # The simulator has no rate limit; the default budget would pace the burst.
        HOOKS_GITLAB_RATE_PER_MINUTE="600000",
        HOOKS_LEASE_SECONDS="2",
        HOOKS_POLL_INTERVAL_S="0.1",
        HOOKS_RETRY_BASE_S="0.1",
        HOOKS_RETRY_CAP_S="1",
        HOOKS_LOG_FORMAT="json",
    )
    return {**env, **extra}  # extra may override the defaults above


def issue_opened(sim: Simulator, n: int) -> bytes:
    """The `issue_open.json` fixture as alice opening issue n of ITEMS on the simulator."""
    payload = json.loads(fixture_bytes("issue_open.json"))
    issue = sim.issue(ITEMS, n)
    with sim.lock:
        project = sim.state.project(ITEMS)
        alice = sim.state.user_by_name("alice")
    assert project is not None and alice is not None
    payload["user"].update(id=alice["id"], username="alice", name=alice["name"])
    payload["project"].update(
        id=project["id"], path_with_namespace=ITEMS, web_url=f"{sim.url}/{ITEMS}"
    )
    payload["object_attributes"].update(
        id=issue["id"],
        iid=n,
        title=issue["title"],
        project_id=project["id"],
        author_id=alice["id"],
        url=issue["web_url"],
    )
    return json.dumps(payload).encode()


class Burst:
    """Sends deliveries 1..count and remembers the delivery id each was acknowledged with."""

    def __init__(self, sim: Simulator, count: int, *, in_flight: int = 16) -> None:
        self.bodies = {n: issue_opened(sim, n) for n in range(1, count + 1)}
        self.acknowledged: dict[int, int] = {}
        self.on_ack: Callable[[int], None] = lambda _n: None
        self._slots = asyncio.Semaphore(in_flight)

    async def send_all(self, targets: Callable[[int], Sequence[str]], within_s: float) -> None:
        """Send every delivery to `targets(n)` in order, again and again until one answers 202."""
        deadline = time.monotonic() + within_s
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
            await asyncio.gather(
                *(self._until_acked(session, n, targets, deadline) for n in self.bodies)
            )

    async def _until_acked(
        self,
        session: aiohttp.ClientSession,
        n: int,
        targets: Callable[[int], Sequence[str]],
        deadline: float,
    ) -> None:

        async def acknowledged() -> bool:
            for url in targets(n):
                delivery_id = await self._post(session, url, n)
                if delivery_id is not None:
                    self.acknowledged[n] = delivery_id
                    self.on_ack(n)
                    return True
            return False  # nobody answered: a replica is restarting

        async with self._slots:
            with contextlib.suppress(NotInTime):  # never acknowledged: the test says which
                await eventually(
                    acknowledged,
                    within_s=max(0.0, deadline - time.monotonic()),
                    every_s=0.05,
                    ignoring=(),
                )

    async def _post(self, session: aiohttp.ClientSession, url: str, n: int) -> int | None:
        headers = {
            "X-Gitlab-Event": "Issue Hook",
            "X-Gitlab-Token": SECRET,
            "X-Gitlab-Event-UUID": str(uuid.uuid5(uuid.NAMESPACE_URL, f"burst-{n}")),
            "Idempotency-Key": f"burst-{n}",
        }
        try:
            async with session.post(url + "/webhook", data=self.bodies[n], headers=headers) as r:
                if r.status == 202:
                    return int((await r.json())["delivery"])
        except (TimeoutError, aiohttp.ClientError):
            pass
        return None


async def processed_once(database_url: str, ids: Sequence[int]) -> dict[int, int]:
    """Each delivery's attempts; asserts each is done and was recorded as processed once."""
    store = Store.open(database_url)
    try:
        attempts: dict[int, int] = {}
        for delivery_id in ids:
            delivery = await store.get_delivery(delivery_id)
            assert delivery is not None, delivery_id
            assert delivery.status == "done", (delivery_id, delivery.status, delivery.last_error)
            trail = await store.audit_for(delivery_id=delivery_id)
            received = [r for r in trail if r["kind"] == "event" and r["outcome"] == "received"]
            assert len(received) == 1, f"delivery {delivery_id} recorded {len(received)} times"
            attempts[delivery_id] = delivery.attempts
        return attempts
    finally:
        await store.close()


async def found_by_marker(database_url: str) -> int:
    """How many actions a resumed attempt found already made on GitLab (write before a kill)."""
    store = Store.open(database_url)
    try:
        async with store.engine.connect() as conn:
            rows = await conn.execute(select(audit.c.detail).where(audit.c.kind == "action"))
            return sum(
                1 for (detail,) in rows if json.loads(detail)["result"].get("found_by_marker")
            )
    finally:
        await store.close()


def comments_per_issue(sim: Simulator, count: int) -> Counter[int]:
    """How many comments the bot left on each issue 1..count of ITEMS."""
    return Counter({n: len(marked_notes(sim, ITEMS, n)) for n in range(1, count + 1)})


def label_added_per_issue(sim: Simulator, label: str, count: int) -> Counter[int]:
    """How many times `label` was added to each issue 1..count of ITEMS (GitLab's label events)."""
    added: Counter[int] = Counter()
    with sim.lock:
        project = sim.state.project(ITEMS)
        assert project is not None
        for n in range(1, count + 1):
            issue = sim.state.issue(project["id"], n)
            assert issue is not None
            added[n] = sum(
                1
                for e in sim.state.label_events.get(issue["id"], [])
                if e["label"]["name"] == label and e["action"] == "add"
            )
    return added


def issues_titled(sim: Simulator, project: str) -> Counter[str]:
    """The issues of a project, counted by title."""
    return Counter(i["title"] for i in sim.issues(project))


async def held_by(database_url: str, pid: int) -> list[int]:
    """The deliveries process `pid` holds a lease on (owners read `host:pid:nonce`)."""
    d = deliveries.c
    store = Store.open(database_url)
    try:
        async with store.engine.connect() as conn:
            rows = await conn.execute(
                select(d.id).where((d.status == "processing") & d.lease_owner.like(f"%:{pid}:%"))
            )
            return [int(i) for (i,) in rows]
    finally:
        await store.close()
