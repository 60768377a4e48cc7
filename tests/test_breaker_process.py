"""The circuit breaker through `hooks serve` processes: a pause survives a restart, and
SIGHUP with a changed rule resumes it."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Any

import aiohttp

from hooks.storage.store import Store
from hooks.testing.simulator import Simulator, SimulatorThread
from hooks.testing.waiting import eventually
from tests.conftest import SECRET
from tests.e2e import as_user, marked_notes
from tests.test_circuit_breaker import REFUSED_COMMENTS, RULE, RULES, owner_issues, seed
from tests.test_serve_process import ServeProcess, serve_env

__all__ = ["serve_env"]  # the fixture, used below


async def breakers(process: ServeProcess) -> str:
    async with aiohttp.ClientSession() as http, http.get(process.url + "/readyz") as answer:
        assert answer.status == 200
        detail: str = (await answer.json())["checks"]["breakers"]["detail"]
        return detail


async def block(sim: Simulator, iid: int, database_url: str) -> None:
    """alice labels demo/product#iid 'blocked'; wait until the service processed it."""
    issue = as_user(sim, "alice").projects.get("demo/product", lazy=True).issues.get(iid)
    issue.labels = ["blocked"]
    await asyncio.to_thread(issue.save)
    store = Store.open(database_url)

    async def processed() -> bool:
        for delivery in await store.list_deliveries(limit=50):
            body = delivery.body.decode()
            if f'"iid": {iid},' in body or f'"iid":{iid},' in body:
                return delivery.status not in ("pending", "processing")
        return False

    try:
        await eventually(processed, within_s=20)
    finally:
        await store.close()


def start(env: dict[str, str], sim: Simulator, tmp_path: Path, hook: int | None) -> Any:
    process = ServeProcess(env, tmp_path / "serve.log")
    url = process.url + "/webhook"
    if hook is None:
        return process, sim.add_hook(url, SECRET, project="demo/product")
    with sim.lock:
        sim.state.hooks[hook]["url"] = url
    return process, hook


async def test_a_paused_rule_stays_paused_across_a_restart_and_sighup_with_a_change_resumes_it(
    serve_env: dict[str, str], tmp_path: Path
) -> None:
    sim = Simulator(seed())
    with SimulatorThread(sim):
        rules = Path(serve_env["HOOKS_RULES_DIR"]) / "rules.yaml"
        rules.write_text(RULES)
        serve_env.update(
            HOOKS_GITLAB_URL=sim.url,
            HOOKS_GITLAB_TOKEN=sim.bot_token,
            HOOKS_GITLAB_RATE_PER_MINUTE="60000",
            HOOKS_ALERT_PROJECT="demo/ops",
            HOOKS_WATCHDOG_INTERVAL_S="0",
            HOOKS_RECONCILE_INTERVAL_S="0",
        )
        database = serve_env["HOOKS_DATABASE_URL"]
        sim.faults.add(REFUSED_COMMENTS)
        first, hook = start(serve_env, sim, tmp_path, None)
        try:
            await first.ready()
            for iid in range(1, 6):
                await block(sim, iid, database)
            paused = await breakers(first)
        finally:
            assert first.stop(signal.SIGTERM) == 0
        sim.faults.clear()

        second, _ = start(serve_env, sim, tmp_path, hook)
        try:
            await second.ready()
            after_restart = await breakers(second)
            await block(sim, 6, database)  # paused: no comment although GitLab accepts it now
            rules.write_text(RULES.replace("what does it need?", "who can unblock it?"))
            second.proc.send_signal(signal.SIGHUP)

            async def resumed() -> bool:
                return await breakers(second) == "no rule paused"

            await eventually(resumed, within_s=20)
            await block(sim, 7, database)
        finally:
            assert second.stop(signal.SIGTERM) == 0

    assert paused.startswith(f"1 paused: {RULE} (5 actions failed in a row")
    assert after_restart == paused
    assert marked_notes(sim, "demo/product", 6) == []
    [note] = marked_notes(sim, "demo/product", 7)
    assert note["body"].startswith("Blocked: who can unblock it?")
    assert len(owner_issues(sim)) == 1
