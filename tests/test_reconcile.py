"""Never miss what GitLab drops: the watchdog re-enables a disabled hook, and reconciliation
runs the rules once on every change no stored delivery covers."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from hooks.catchup.cli import reconcile
from hooks.catchup.jobs import RECONCILE, WatchJobs
from hooks.processing.worker import utcnow
from hooks.rules.model import Rule
from hooks.rules.reconcilable import not_reconcilable
from hooks.service.context import SERVICE
from hooks.service.metrics import Metrics
from hooks.service.runtime import Runtime
from hooks.storage.records import NewDelivery
from hooks.storage.store import Store
from hooks.storage.watch import WatchStore, covers, issue_subject
from hooks.testing.clock import FakeClock
from hooks.testing.seeds import ON_TRACK_RULES, sprint_seed
from hooks.testing.sim_faults import Fault
from hooks.testing.simulator import Simulator, SimulatorThread
from hooks.testing.waiting import eventually
from tests.conftest import SECRET
from tests.e2e import as_user, marked_notes, service_settings, settle, start_service

RULES = (
    ON_TRACK_RULES
    + """- name: blocked-comment
  on: {issue: [update]}
  if: {label_added: [blocked]}
  do: [{comment: "Blocked: what does it need?"}]
- name: due-date-moved
  on: {issue: [update]}
  if: {changed: [due_date]}
  do: [{comment: "The due date moved."}]
"""
)

NO_TIMERS = {"watchdog_interval_s": 0, "reconcile_interval_s": 0}


def seed(extra_issues: int = 0) -> dict[str, Any]:
    sprint = {"milestone": "Sprint 1", "labels": ["health::on track"]}
    return sprint_seed(
        [
            {"title": "Blocked later", **sprint},
            {"title": "Due date moves", **sprint},
            {"title": "Joins the sprint"},
            {"title": "Unplanned"},
            *({"title": f"Backlog {n}", "milestone": "Sprint 1"} for n in range(extra_issues)),
        ]
    )


def bot_writes(sim: Simulator) -> list[str]:
    """What the bot changed on GitLab (its hook tests excluded: they change no issue)."""
    return [
        f"{r.method} {r.path}"
        for r in sim.recorded(user="hooks-bot")
        if r.method in ("PUT", "POST") and "/hooks/" not in r.path and "graphql" not in r.path
    ]


async def watch(store: Store, hook_id: int) -> None:
    await WatchStore(store).record_hook(
        "demo/product", hook_id, utcnow(), kind="project", url="http://service/webhook"
    )


# -- what "a change no stored delivery covers" means -------------------------------------


async def test_a_change_is_covered_only_by_a_delivery_at_or_after_it(sqlite_url: str) -> None:
    store = Store.open(sqlite_url)
    await store.migrate()
    payload = {
        "object_kind": "issue",
        "project": {"path_with_namespace": "demo/product"},
        "object_attributes": {"iid": 7, "updated_at": "2026-11-24 10:00:05 UTC"},
    }
    await store.add_delivery(
        NewDelivery(
            "k1",
            "Issue Hook",
            "issue",
            "demo/product",
            None,
            {},
            json.dumps(payload).encode(),
            datetime(2026, 11, 24, 10, 0, 6, tzinfo=UTC),
        )
    )
    seen = await WatchStore(store).coverage("demo", datetime(2026, 11, 24, 9, tzinfo=UTC))
    await store.close()
    delivered = seen[issue_subject("demo/product", 7)]
    # Webhooks carry whole seconds, the API milliseconds: the same second is covered.
    assert covers(delivered, datetime(2026, 11, 24, 10, 0, 5, 900_000, tzinfo=UTC))
    assert not covers(delivered, datetime(2026, 11, 24, 10, 0, 6, tzinfo=UTC))
    assert not covers(None, datetime(2026, 11, 24, 10, 0, 5, tzinfo=UTC))


def test_rules_on_what_changed_are_reconcilable_only_for_labels() -> None:
    labels = Rule.model_validate(
        {
            "name": "a",
            "on": {"issue": ["update"]},
            "if": {"label_added": ["x"]},
            "do": [{"close": True}],
        }
    )
    due = Rule.model_validate(
        {
            "name": "b",
            "on": {"issue": ["update"]},
            "if": {"any": [{"changed": ["due_date"]}]},
            "do": [{"close": True}],
        }
    )
    state = Rule.model_validate(
        {
            "name": "c",
            "on": {"issue": ["update"]},
            "if": {"state": "opened"},
            "do": [{"close": True}],
        }
    )
    assert not_reconcilable(labels) is None and not_reconcilable(state) is None
    assert "due_date" in (not_reconcilable(due) or "")


# -- the whole story on the simulator ------------------------------------------------------


async def test_dropped_events_are_reported_reenabled_and_reconciled_exactly_once(
    tmp_path: Path,
) -> None:
    sim = Simulator(seed())
    with SimulatorThread(sim):
        settings = service_settings(sim, tmp_path, RULES, **NO_TIMERS)
        server = await start_service(settings)
        service = server.app[SERVICE]
        jobs = service.runtime.watch_jobs if service.runtime else None
        assert jobs is not None and jobs.watchdog is not None and jobs.reconciler is not None
        hook_id = sim.add_hook(
            str(server.make_url("/webhook")), "wrong-secret", project="demo/product"
        )
        await watch(service.store, hook_id)
        alice = as_user(sim, "alice")
        product = alice.projects.get("demo/product")
        unplanned = product.issues.get(4)
        try:
            # Four deliveries refused (wrong secret): GitLab disables the hook.
            for n in range(4):
                unplanned.labels = [f"tried-{n}"]
                await asyncio.to_thread(unplanned.save)
            await asyncio.to_thread(sim.wait_webhooks_idle, 10)
            with sim.lock:
                sim.state.hooks[hook_id]["token"] = SECRET  # the operator fixes the secret
            # While disabled, three changes happen; GitLab drops their events.
            blocked, moved, joins = (product.issues.get(i) for i in (1, 2, 3))
            blocked.labels = ["health::on track", "blocked"]
            await asyncio.to_thread(blocked.save)
            moved.due_date = "2030-01-31"
            await asyncio.to_thread(moved.save)
            joins.milestone_id = sim.milestone("Sprint 1")["id"]
            await asyncio.to_thread(joins.save)
            await asyncio.to_thread(sim.wait_webhooks_idle, 10)
            assert [d.status for d in sim.webhooks.sent[-3:]] == ["dropped"] * 3
            assert bot_writes(sim) == []

            # The watchdog notices and says so: /readyz detail, metric, stored status.
            await jobs.watchdog.check()
            client_answer = await ready(server)
            assert client_answer["ready"] is True
            assert (
                f"demo/product:{hook_id} temporarily_disabled"
                in client_answer["checks"]["webhooks"]["detail"]
            )
            metrics = (await (await server_get(server, "/metrics")).read()).decode()
            assert f'hooks_webhook_disabled{{hook="demo/product:{hook_id}"}} 1.0' in metrics
            [status] = await WatchStore(service.store).hooks()
            assert status.recent_failures == 4

            # Configured to, it re-enables the hook with GitLab's test delivery.
            jobs.watchdog.reenable = True
            [status] = await jobs.watchdog.check()
            assert status.alert_status == "executable" and status.reenabled_at is not None
            with sim.lock:
                assert sim.state.hooks[hook_id]["alert_status"] == "executable"
            # Then the four refused deliveries, still in the hook's log, are resent (the
            # secret is right now): the test delivery first, then each of them, accepted.
            assert [(d.event, d.status) for d in sim.webhooks.sent[-5:]] == [
                ("Push Hook", 202),
                *[("Issue Hook", 202)] * 4,
            ]
            assert "all delivering" in (await ready(server))["checks"]["webhooks"]["detail"]

            # Reconciliation does what the three dropped events would have done, once.
            [report] = await jobs.reconciler.sweep()
            await settle(sim, service.store)
            assert report.finished and not report.errors
            # Three issues and the sprint were swept; the fourth issue's changes are covered
            # by its resent deliveries. Every issue update might have moved a due date: the
            # rule on it is reported for each (GitLab keeps no due date history).
            assert (report.applied, report.skipped, report.not_reconcilable) == (4, 1, 3)
            notes = marked_notes(sim, "demo/product", 1)
            assert [n["body"].split("\n")[0] for n in notes] == ["Blocked: what does it need?"]
            assert "health::on track" in sim.issue("demo/product", 3)["labels"]
            assert marked_notes(sim, "demo/product", 2) == []
            assert sorted(bot_writes(sim)) == sorted(
                [
                    "POST /api/v4/projects/demo%2Fproduct/issues/1/notes",
                    "PUT /api/v4/projects/demo%2Fproduct/issues/3",
                ]
            )
            audit = await service.store.audit_for(subject="demo/product#2")
            assert any(
                a["outcome"] == "not_reconcilable" and a["rule"] == "due-date-moved" for a in audit
            )

            # A second run in a row writes nothing.
            before = len(bot_writes(sim))
            [again] = await jobs.reconciler.sweep()
            assert again.applied == 0 and len(bot_writes(sim)) == before
            # ... and neither does one told to look again from before the outage.
            [since] = await jobs.reconciler.sweep(since=datetime(2020, 1, 1, tzinfo=UTC))
            assert since.applied == 0 and len(bot_writes(sim)) == before
        finally:
            await server.close()


async def test_a_backlog_reconciles_under_the_rate_limit_across_a_restart(
    tmp_path: Path,
) -> None:
    # 200 items; GitLab's limit scaled to 100 requests per 1 s window. The budget keeps any
    # window under it: 90 requests/s plus the bucket's burst of 10.
    sim = Simulator(seed(extra_issues=200))
    sim.faults.add(Fault(user="hooks-bot", rate_limit_per_minute=100, window_s=1.0))
    with SimulatorThread(sim):
        hook_id = sim.add_hook("http://127.0.0.1:9/webhook", SECRET, project="demo/product")
        settings = service_settings(
            sim,
            tmp_path,
            RULES,
            gitlab_rate_per_minute=5_400,
            watched_hooks=f"demo/product:{hook_id}",
            **NO_TIMERS,
        )
        # Each call is a process of its own: store, gateway, executor; one sweep; stop.
        [first] = await reconcile(settings, None, max_items=100)
        [second] = await reconcile(settings, None, max_items=1_000)  # resumes at the cursor
        [third] = await reconcile(settings, None, max_items=1_000)

    assert not first.finished and first.applied == 100
    assert second.finished and first.applied + second.applied == 205  # 204 issues, 1 sprint
    assert third.applied == 0
    puts: dict[str, int] = {}
    for r in sim.recorded(user="hooks-bot"):
        if r.method == "PUT":
            puts[r.path] = puts.get(r.path, 0) + 1
    assert len(puts) == 200 and set(puts.values()) == {1}  # each item once, none twice
    assert [r for r in sim.recorded(user="hooks-bot") if r.status == 429] == []
    on_track = [i for i in sim.issues("demo/product") if "health::on track" in i["labels"]]
    assert len(on_track) == 202


async def test_more_than_a_page_of_issues_changed_in_one_millisecond_are_each_reconciled(
    tmp_path: Path,
) -> None:
    # A bulk edit (here: the seed) gives 204 issues one updated_at. The sweep's edits move
    # those it handled to the end of the order while the rest still share the cursor's time.
    seeded = datetime.now(UTC).replace(microsecond=0)
    clock = FakeClock(seeded)
    sim = Simulator(seed(extra_issues=200), now=clock)
    clock.advance(timedelta(seconds=1))
    with SimulatorThread(sim):
        hook_id = sim.add_hook("http://127.0.0.1:9/webhook", SECRET, project="demo/product")
        settings = service_settings(
            sim, tmp_path, RULES, watched_hooks=f"demo/product:{hook_id}", **NO_TIMERS
        )
        [report] = await reconcile(settings, None, max_items=1_000)

    assert report.finished and report.applied == 205  # 204 issues, 1 sprint
    puts = [r.path for r in sim.recorded(user="hooks-bot") if r.method == "PUT"]
    assert len(puts) == len(set(puts)) == 200
    on_track = [i for i in sim.issues("demo/product") if "health::on track" in i["labels"]]
    assert len(on_track) == 202


async def test_a_sweep_that_dies_after_acting_resumes_without_acting_twice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rules = """
rules:
- name: triage-blocked
  on: {issue: [update]}
  if: {label_added: [blocked]}
  do: [{add_labels: [triaged]}, {comment: "Blocked: what does it need?"}]
"""
    sim = Simulator(seed())
    with SimulatorThread(sim):
        hook_id = sim.add_hook("http://127.0.0.1:9/webhook", SECRET, project="demo/product")
        settings = service_settings(
            sim, tmp_path, rules, watched_hooks=f"demo/product:{hook_id}", **NO_TIMERS
        )
        issue = as_user(sim, "alice").projects.get("demo/product").issues.get(1)
        issue.labels = ["health::on track", "blocked"]
        issue.save()  # its webhook reaches nobody: nothing is stored

        record = WatchStore.mark_reconciled

        async def killed(watch: WatchStore, changes: list[Any], now: datetime) -> None:
            if any(subject == "demo/product#1" for subject, _at, _outcome in changes):
                raise RuntimeError("killed before recording what it did")
            await record(watch, changes, now)

        monkeypatch.setattr(WatchStore, "mark_reconciled", killed)
        [died] = await reconcile(settings, None, None)
        monkeypatch.setattr(WatchStore, "mark_reconciled", record)
        acted = sorted(bot_writes(sim))
        [resumed] = await reconcile(settings, None, None)

    assert died.errors == ["RuntimeError: killed before recording what it did"]
    assert acted == [
        "POST /api/v4/projects/demo%2Fproduct/issues/1/notes",
        "PUT /api/v4/projects/demo%2Fproduct/issues/1",
    ]
    # The bot's own label moved updated_at, yet the resumed sweep plans the same keys.
    assert resumed.errors == [] and sorted(bot_writes(sim)) == acted
    assert len(marked_notes(sim, "demo/product", 1)) == 1


async def test_a_label_added_early_in_an_outage_counts_when_its_issue_is_reached_later(
    tmp_path: Path,
) -> None:
    sim = Simulator(seed())
    with SimulatorThread(sim):
        hook_id = sim.add_hook("http://127.0.0.1:9/webhook", SECRET, project="demo/product")
        settings = service_settings(
            sim, tmp_path, RULES, watched_hooks=f"demo/product:{hook_id}", **NO_TIMERS
        )
        # Caught up before the outage (by deliveries since forgotten): cursors at `caught_up`.
        caught_up = utcnow()
        store = Store.open(settings.database_url)
        await store.migrate()
        for kind in ("issue", "milestone", "origin"):
            await WatchStore(store).advance("demo/product", kind, caught_up, caught_up)
        await store.close()
        product = as_user(sim, "alice").projects.get("demo/product")
        blocked, other = product.issues.get(1), product.issues.get(4)
        blocked.labels = ["health::on track", "blocked"]
        blocked.save()
        other.labels = ["touched"]
        other.save()
        blocked.due_date = "2030-01-31"  # issue 1 now sorts after issue 4
        blocked.save()
        [first] = await reconcile(settings, None, 1)  # the budget reaches issue 4 only
        [second] = await reconcile(settings, None, None)

    assert not first.finished and second.finished
    notes = marked_notes(sim, "demo/product", 1)
    assert [n["body"].split("\n")[0] for n in notes] == ["Blocked: what does it need?"]


async def test_the_running_service_reenables_and_reconciles_on_its_own(tmp_path: Path) -> None:
    sim = Simulator(seed())
    with SimulatorThread(sim):
        joins = as_user(sim, "alice").projects.get("demo/product").issues.get(3)
        settings = service_settings(
            sim,
            tmp_path,
            RULES,
            watchdog_interval_s=0.2,
            reconcile_interval_s=0.3,
            watchdog_reenable=True,
        )
        server = await start_service(settings)
        try:
            hook_id = sim.add_hook(str(server.make_url("/webhook")), SECRET, project="demo/product")
            await watch(server.app[SERVICE].store, hook_id)
            with sim.lock:  # GitLab disabled it a while ago
                sim.state.hooks[hook_id].update(
                    alert_status="temporarily_disabled", disabled_until="2999-01-01T00:00:00+00:00"
                )
            joins.milestone_id = sim.milestone("Sprint 1")["id"]
            joins.save()  # dropped
            await eventually(
                lambda: "health::on track" in sim.issue("demo/product", 3)["labels"],
                within_s=10,
                every_s=0.1,
            )
            with sim.lock:
                status = sim.state.hooks[hook_id]["alert_status"]
        finally:
            await server.close()
    assert status == "executable"
    assert "health::on track" in sim.issue("demo/product", 3)["labels"]
    assert bot_writes(sim) == ["PUT /api/v4/projects/demo%2Fproduct/issues/3"]


async def test_each_slot_runs_on_one_replica_only(tmp_path: Path) -> None:
    sim = Simulator(seed())
    with SimulatorThread(sim):
        settings = service_settings(sim, tmp_path, RULES, **NO_TIMERS)
        store = Store.open(settings.database_url)
        await store.migrate()
        replicas = [Runtime(settings, store, Metrics(), now=utcnow) for _ in range(2)]
        for runtime in replicas:
            runtime.rules.load(utcnow())
            await runtime.resolve_bot()
        slot = datetime(2026, 11, 24, 10, tzinfo=UTC)
        jobs: list[WatchJobs] = [r.watch_jobs for r in replicas if r.watch_jobs is not None]
        outcomes = await asyncio.gather(*(j.run(RECONCILE, slot) for j in jobs))
        for runtime in replicas:
            await runtime.close()
        await store.close()
    assert sorted(outcomes, key=str) == [None, "done"]


# -- helpers -----------------------------------------------------------------------------


async def server_get(server: Any, path: str) -> Any:
    import aiohttp

    async with aiohttp.ClientSession() as session:
        response = await session.get(server.make_url(path))
        await response.read()
        return response


async def ready(server: Any) -> dict[str, Any]:
    response = await server_get(server, "/readyz")
    data: dict[str, Any] = json.loads(await response.read())
    return data
