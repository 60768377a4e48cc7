"""The watchdog's settings, its silence check, and its tables on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hooks.catchup.watchdog import DAYS, WorkingHours, parse_watched
from hooks.processing.worker import utcnow
from hooks.service.health import webhooks_check
from hooks.service.metrics import Metrics
from hooks.service.runtime import Runtime
from hooks.storage.store import Store
from hooks.storage.watch import WatchStore, issue_subject
from hooks.testing.seeds import sprint_seed
from hooks.testing.simulator import Simulator, SimulatorThread
from tests.conftest import SECRET
from tests.e2e import as_user, service_settings

RULES = "rules: []\n"


def test_working_hours_read_days_and_times_in_their_zone() -> None:
    hours = WorkingHours.parse("mon-fri 09:00-17:00", "Europe/Berlin")
    monday_10_berlin = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    assert hours.contains(monday_10_berlin)
    assert not hours.contains(monday_10_berlin + timedelta(hours=8))  # 18:00 in Berlin
    assert not hours.contains(monday_10_berlin + timedelta(days=5))  # Saturday
    assert WorkingHours.parse("fri-mon 00:00-23:59", "UTC").contains(monday_10_berlin)


@pytest.mark.parametrize("text", ["weekdays", "mon-fri 9-17", "mon-xyz 09:00-17:00"])
def test_malformed_working_hours_are_refused_with_an_example(text: str) -> None:
    with pytest.raises(ValueError, match="mon-fri 09:00-17:00"):
        WorkingHours.parse(text, "UTC")


def test_watched_hooks_are_path_and_id_pairs() -> None:
    assert parse_watched("demo/product:12, demo:3,") == [("demo/product", 12), ("demo", 3)]
    with pytest.raises(ValueError, match="PATH:HOOK_ID"):
        parse_watched("demo/product")


async def test_watch_tables_on_both_databases(database_url: str) -> None:
    store = Store.open(database_url)
    await store.migrate()
    watch = WatchStore(store)
    now = datetime(2026, 11, 24, 10, tzinfo=UTC)
    try:
        await watch.record_hook("demo", 3, now, kind=None, url=None)
        await watch.record_hook("demo", 3, now, kind="group", url="https://svc/webhook")
        [hook] = await watch.hooks()
        assert (hook.scope_kind, hook.url) == ("group", "https://svc/webhook")

        await watch.advance("demo", "issue", now, now)
        await watch.advance("demo", "issue", now - timedelta(hours=1), now)  # never back
        assert await watch.cursor("demo", "issue") == now
        assert await watch.cursor("demo", "milestone") is None

        subject = issue_subject("demo/product", 1)
        await watch.mark_reconciled([(subject, now, "applied")], now)
        await watch.mark_reconciled([(subject, now, "own_write")], now)  # known: kept
        later = now + timedelta(seconds=5)
        await watch.mark_reconciled([(subject, later, "own_write")], now)
        assert await watch.reconciled([subject, "demo/product#2"]) == {subject: later}
    finally:
        await store.close()


async def test_a_silent_hook_is_reported_while_its_project_changes(tmp_path: Path) -> None:
    sim = Simulator(sprint_seed([{"title": "Busy"}]))
    with SimulatorThread(sim):
        hook_id = sim.add_hook("http://127.0.0.1:9/webhook", SECRET, project="demo/product")
        settings = service_settings(
            sim,
            tmp_path,
            RULES,
            watched_hooks=f"demo/product:{hook_id}",
            silence_after_s=600,
            working_hours="mon-sun 00:00-23:59",
        )
        store = Store.open(settings.database_url)
        await store.migrate()
        metrics = Metrics()
        runtime = Runtime(settings, store, metrics, now=utcnow)
        try:
            jobs = runtime.watch_jobs
            assert jobs is not None and jobs.watchdog is not None
            await jobs.record_configured()
            today = DAYS[utcnow().weekday()]
            other_day = DAYS[(utcnow().weekday() + 1) % 7]
            jobs.watchdog.working_hours = WorkingHours.parse(f"{other_day} 00:00-23:59", "UTC")
            issue = as_user(sim, "alice").projects.get("demo/product").issues.get(1)
            issue.labels = ["touched"]
            issue.save()
            sim.wait_webhooks_idle(5)  # delivered nowhere: the URL answers nothing
            [off_hours] = await jobs.watchdog.check()
            jobs.watchdog.working_hours = WorkingHours.parse(f"{today} 00:00-23:59", "UTC")
            [silent] = await jobs.watchdog.check()
            answer = await webhooks_check(store, utcnow())
        finally:
            await runtime.close()
            await store.close()
    assert off_hours.scope_kind == "project" and off_hours.silent_since is None
    assert silent.silent_since is not None and not silent.disabled(utcnow())
    assert answer.ok and f"demo/product:{hook_id} silent since" in answer.detail
    assert f'hooks_webhook_silent{{hook="demo/product:{hook_id}"}} 1.0' in metrics.render().decode()
