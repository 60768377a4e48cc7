"""Two `hooks serve` replicas on one PostgreSQL database, one SIGKILLed halfway through a burst.

Deliveries are claimed once (`FOR UPDATE SKIP LOCKED`), effects made once (idempotency keys
and markers), scheduled runs run once (the run ledger).
"""

from __future__ import annotations

import asyncio
import signal
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

from hooks.processing.worker import utcnow
from hooks.storage.runs import RunLedger
from hooks.storage.store import Store
from hooks.testing.serve_process import ServeProcess
from hooks.testing.sim_faults import Fault
from hooks.testing.simulator import Simulator, SimulatorThread
from tests.burst import (
    SISTERS,
    Burst,
    comments_per_issue,
    found_by_marker,
    held_by,
    issues_titled,
    label_added_per_issue,
    processed_once,
    seed,
    serve_env,
)
from tests.conftest import SECRET
from tests.e2e import marked_notes, service_settings, settle, start_service, store_of
from tests.test_act_once import block
from tests.test_serve_process import wait_all_finished

COUNT = 1000
RULES = """
rules:
- name: track-new-item
  on: {{issue: [open]}}
  do:
    - comment: "Tracked: {{{{ issue.title }}}}"
    - add_labels: [tracked]
- name: hourly-digest
  on: {{schedule: {{cron: "{minute} * * * *", timezone: UTC}}}}
  do:
    - create_issue: {{project: {sisters}, title: Digest, link: none}}
"""


async def the_digest_last_ran_at(database_url: str, when_: datetime) -> None:
    """The ledger as a deployment that ran the digest then went down leaves it."""
    store = Store.open(database_url)
    try:
        await store.migrate()
        ledger = RunLedger(store)
        assert await ledger.claim(
            "hourly-digest", when_, owner="earlier", lease=timedelta(minutes=5), now=when_
        )
        assert await ledger.finish(
            "hourly-digest", when_, status="done", now=when_, owner="earlier"
        )
    finally:
        await store.close()


async def test_two_replicas_on_postgresql_do_each_delivery_and_schedule_once_when_one_is_killed(
    postgres_url: str, tmp_path: Path
) -> None:
    sim = Simulator(seed(COUNT))
    with SimulatorThread(sim):
        # The digest is due two minutes ago and last ran an hour before: both replicas
        # catch up on it as they start, and the ledger lets one of them run it.
        due = utcnow().replace(second=0, microsecond=0) - timedelta(minutes=2)
        await the_digest_last_ran_at(postgres_url, due - timedelta(hours=1))
        rules = RULES.format(minute=due.minute, sisters=SISTERS)
        env = serve_env(sim, postgres_url, rules, tmp_path, HOOKS_WORKER_CONCURRENCY="8")
        replicas = [ServeProcess(env, tmp_path / f"replica-{i}.log") for i in (0, 1)]
        survivor, victim = replicas
        try:
            await asyncio.gather(*(r.ready() for r in replicas))
            burst = Burst(sim, COUNT)

            interrupted: list[asyncio.Task[list[int]]] = []

            def kill_halfway(_n: int) -> None:
                if len(burst.acknowledged) == COUNT // 2:
                    victim.proc.kill()
                    # What it held, read before the survivor can take it over (lease: 2 s).
                    interrupted.append(asyncio.create_task(held_by(postgres_url, victim.proc.pid)))

            burst.on_ack = kill_halfway
            # Delivery n goes to replica n % 2 and, if that one does not answer, to the other.
            await burst.send_all(
                lambda n: [replicas[n % 2].url, replicas[(n + 1) % 2].url], within_s=120
            )
            victim.stop()
            held = await interrupted[0]
            await (await wait_all_finished(postgres_url, within_s=120)).close()

            ids = list(burst.acknowledged.values())
            assert len(burst.acknowledged) == COUNT and len(set(ids)) == COUNT
            attempts = await processed_once(postgres_url, ids)
            # The kill hit claimed, unfinished work; the survivor took it over.
            assert held, "the killed replica held no delivery"
            assert all(attempts[i] >= 2 for i in held)
            # Waiting out a dead owner's action lease costs at most a retry or two.
            assert max(attempts.values()) <= 4
            print(
                f"killed holding {len(held)} deliveries; attempts "
                f"{sorted(Counter(attempts.values()).items())}; effects found made by the killed "
                f"replica {await found_by_marker(postgres_url)}"
            )

            assert set(comments_per_issue(sim, COUNT).values()) == {1}
            assert set(label_added_per_issue(sim, "tracked", COUNT).values()) == {1}
            assert issues_titled(sim, SISTERS) == {"Digest": 1}
            store = Store.open(postgres_url)
            try:
                run = await RunLedger(store).get("hourly-digest", due)
            finally:
                await store.close()
            assert run is not None and run.status == "done" and run.late
        finally:
            victim.stop()
            assert survivor.stop(signal.SIGTERM) == 0


THREE_NOTES = """
rules:
- name: three-notes
  on: {issue: [update]}
  if: {label_added: [blocked]}
  do:
    - comment: "First of three."
    - comment: "Second of three."
    - comment: "Third of three."
"""


async def test_a_replica_does_not_take_over_actions_another_replica_is_still_performing(
    gitlab_sim: Simulator, postgres_url: str, tmp_path: Path
) -> None:
    # Each write outlasts the action lease; the same event reaches both replicas (a group
    # hook and a project hook), so the second waits while the first is at it, then skips.
    settings = service_settings(
        gitlab_sim, tmp_path, THREE_NOTES, database_url=postgres_url, lease_seconds=1.0
    )
    replicas = [await start_service(settings) for _ in range(2)]
    try:
        gitlab_sim.add_hook(str(replicas[0].make_url("/webhook")), SECRET, group="demo")
        gitlab_sim.add_hook(str(replicas[1].make_url("/webhook")), SECRET, project="demo/product")
        gitlab_sim.faults.add(Fault(user="hooks-bot", method="POST", latency_s=1.2))

        block(gitlab_sim, 1)
        await settle(gitlab_sim, store_of(replicas[0]))

        notes = [n["body"].split("\n")[0] for n in marked_notes(gitlab_sim, "demo/product", 1)]
        assert sorted(notes) == ["First of three.", "Second of three.", "Third of three."]
    finally:
        for replica in replicas:
            await replica.close()
