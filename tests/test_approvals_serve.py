"""Approval above a size through a real `hooks serve` process on the simulator: the shipped
roll-over of 51 items waits for a Maintainer's label, then moves each item once."""

from __future__ import annotations

import signal
from pathlib import Path

from hooks.testing.serve_process import ServeProcess, serve_environment
from hooks.testing.simulator import Simulator, SimulatorThread
from hooks.testing.waiting import eventually
from tests.conftest import SECRET
from tests.e2e import RULE_PACK, close_milestone
from tests.test_approvals import ITEMS, in_sprint, label, requests_opened, sprint_seed


async def test_hooks_serve_holds_a_big_roll_over_until_a_maintainer_approves(
    tmp_path: Path,
) -> None:
    sim = Simulator(sprint_seed(ITEMS))
    with SimulatorThread(sim):
        env = serve_environment(
            HOOKS_DATABASE_URL=f"sqlite:///{tmp_path / 'hooks.db'}",
            HOOKS_WEBHOOK_SECRET=SECRET,
            HOOKS_RULES_DIR=str(RULE_PACK),
            HOOKS_GITLAB_URL=sim.url,
            HOOKS_GITLAB_TOKEN=sim.bot_token,
            HOOKS_GITLAB_RATE_PER_MINUTE="60000",
            HOOKS_APPROVAL_PROJECT="demo/marketing",
            HOOKS_POLL_INTERVAL_S="0.05",
            HOOKS_LOG_FORMAT="json",
        )
        serve = ServeProcess(env, tmp_path / "serve.log")
        try:
            await serve.ready()
            sim.add_hook(f"{serve.url}/webhook", SECRET, group="demo")

            close_milestone(sim, "Sprint 42")
            [request] = await eventually(lambda: requests_opened(sim), within_s=30)
            waiting = len(in_sprint(sim, "Sprint 42"))
            label(sim, "bob", request["iid"])
            [refusal] = await eventually(lambda: sim.notes("demo/marketing", request["iid"]))
            refused = len(in_sprint(sim, "Sprint 42"))
            label(sim, "alice", request["iid"])
            await eventually(lambda: len(in_sprint(sim, "Sprint 43")) == ITEMS, within_s=60)
            await eventually(
                lambda: sim.issue("demo/marketing", request["iid"])["state"] == "closed"
            )
        finally:
            code = serve.stop(signal.SIGTERM)

    assert (waiting, refused) == (ITEMS, ITEMS)
    assert refusal["body"].startswith("Not approved: @bob has Developer (30)")
    assert all(
        len([n for n in sim.notes("demo/product", i["iid"]) if "Rolled over" in n["body"]]) == 1
        for i in sim.issues("demo/product")
    )
    assert code == 0
