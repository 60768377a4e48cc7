"""PostgreSQL going away mid-run and coming back: intake says 503, readiness says why, and
every acknowledged delivery is processed once afterwards (issue 11, "Database faults").

The test breaks only a link of its own: the service reaches its own database through a
loopback proxy that the test cuts (every connection dropped, new ones refused), which is
what a stopped server or a network partition looks like from the service.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import aiohttp
import structlog
from sqlalchemy.engine import make_url

from hooks.processing.worker import utcnow
from hooks.testing.sim_faults import Fault
from hooks.testing.simulator import Simulator, SimulatorThread
from hooks.testing.waiting import NotInTime, eventually
from tests.burst import ITEMS, SISTERS, issue_opened, seed
from tests.conftest import SECRET
from tests.e2e import marked_notes, service_settings, start_service, store_of
from tests.faults import Acks, CuttableLink
from tests.test_gitlab_faults import BOT, TRIAGE, finished


async def readiness(session: aiohttp.ClientSession, url: str) -> tuple[int, dict[str, Any]]:
    async with session.get(url) as response:
        return response.status, await response.json()


async def test_while_postgresql_is_down_intake_answers_503_and_afterwards_nothing_is_lost(
    postgres_url: str, tmp_path: Path
) -> None:
    target = make_url(postgres_url)
    sim = Simulator(seed(9))
    # Slow GitLab a little, so the outage catches deliveries half-way through.
    sim.faults.add(Fault(user=BOT, latency_s=0.15))
    with (
        CuttableLink(target.host or "127.0.0.1", target.port or 5432) as link,
        SimulatorThread(sim),
    ):
        via_link = target.set(port=link.port).render_as_string(hide_password=False)
        settings = service_settings(
            sim, tmp_path, TRIAGE, database_url=via_link, lease_seconds=2.0, max_attempts=50
        )
        server = await start_service(settings)
        webhook, ready_url = str(server.make_url("/webhook")), str(server.make_url("/readyz"))
        before, during, after = Acks(), Acks(), Acks()
        try:
            async with aiohttp.ClientSession() as session:
                acked = [
                    await before.post(session, webhook, issue_opened(sim, n)) for n in range(1, 7)
                ]

                async def working() -> int:
                    return (await store_of(server).stats(utcnow())).processing

                # Cut while deliveries are being worked on (or after 5 s, if they all went by).
                with contextlib.suppress(NotInTime):
                    await eventually(working, within_s=5, every_s=0.01)
                with structlog.testing.capture_logs() as logs:
                    link.cut()
                    refused = [
                        await during.post(session, webhook, issue_opened(sim, 9)) for _ in range(3)
                    ]
                    async with session.post(
                        webhook,
                        data=issue_opened(sim, 9),
                        headers={"X-Gitlab-Event": "Issue Hook", "X-Gitlab-Token": SECRET},
                    ) as response:
                        down_answer = (response.status, await response.json(), response.headers)
                    down_ready = await readiness(session, ready_url)
                    # The worker meets the outage too (a claim fails) before the link comes back.
                    await eventually(
                        lambda: any(e["event"] == "claim failed" for e in logs), within_s=30
                    )
                link.restore()
                acked += [await after.post(session, webhook, issue_opened(sim, n)) for n in (7, 8)]
                await finished(store_of(server), [d for d in acked if d is not None], within_s=60)
                up_ready = await readiness(session, ready_url)
            store = store_of(server)
            deliveries = [await store.get_delivery(d) for d in acked if d is not None]
            received = [
                sum(
                    line["kind"] == "event" and line["outcome"] == "received"
                    for line in await store.audit_for(delivery_id=d.id)
                )
                for d in deliveries
                if d is not None
            ]
        finally:
            await server.close()

    print(
        f"\nbefore the cut: {len(before.answers)} x 202; during: {sorted(during.statuses)}, slowest"
        f" {during.slowest_s * 1000:.0f} ms; readyz while down: {down_ready[1]['checks']['database']}"
    )
    assert before.statuses == {202} and after.statuses == {202} and all(acked)
    # While down: a clear refusal GitLab can count as a failure, never a 202.
    assert refused == [None] * 3 and during.statuses == {503}
    status, body, headers = down_answer
    assert status == 503 and body == {"error": "storage unavailable, delivery not accepted"}
    assert headers["Retry-After"] == "30"
    assert down_ready[0] == 503 and down_ready[1]["ready"] is False
    database = down_ready[1]["checks"]["database"]
    # It says why: the connection refused (or dropped, if a query was under way).
    assert database["ok"] is False
    assert any(
        why in database["detail"] for why in ("Connect call failed", "connection was closed")
    )
    assert up_ready[0] == 200
    # Afterwards: every acknowledged delivery done, recorded once, each action made once.
    assert [d.status for d in deliveries if d is not None] == ["done"] * 8
    assert received == [1] * 8
    for n in range(1, 9):
        assert len(marked_notes(sim, ITEMS, n)) == 1, n
        assert "triaged" in sim.issue(ITEMS, n)["labels"], n
    follow_ups = sorted(i["title"] for i in sim.issues(SISTERS))
    assert follow_ups == sorted(f"Follow-up: Item {n}" for n in range(1, 9))
    assert marked_notes(sim, ITEMS, 9) == []  # the refused delivery was not taken
