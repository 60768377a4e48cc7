"""Waiting for the service and the simulator to go quiet (shared by tests and `hooks demo`)."""

from __future__ import annotations

import asyncio

from hooks.processing.worker import utcnow
from hooks.storage.store import Store
from hooks.testing.simulator import Simulator
from hooks.testing.waiting import eventually


async def settle(sim: Simulator, store: Store, within_s: float = 30.0) -> None:
    """Wait until no webhook is in flight and no delivery is pending or processing.

    Raises a TimeoutError (hooks.testing.waiting.NotInTime) naming the last counts seen.
    """
    quiet = 0

    async def quiet_three_polls_in_a_row() -> bool:
        nonlocal quiet
        await asyncio.to_thread(sim.wait_webhooks_idle, 5)
        stats = await store.stats(utcnow())
        if not (stats.pending == 0 and stats.processing == 0 and sim.webhooks.pending == 0):
            quiet = 0
            raise AssertionError(f"not settled: {stats}, webhooks {sim.webhooks.pending}")
        quiet += 1
        return quiet >= 3  # stable across a few polls: echoes have come and gone

    await eventually(
        quiet_three_polls_in_a_row, within_s=within_s, every_s=0.1, ignoring=(AssertionError,)
    )
