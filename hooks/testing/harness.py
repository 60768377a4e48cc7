"""Waiting for the service and the simulator to go quiet (shared by tests and `hooks demo`)."""

from __future__ import annotations

import asyncio
import time

from hooks.processing.worker import utcnow
from hooks.storage.store import Store
from hooks.testing.simulator import Simulator


async def settle(sim: Simulator, store: Store, within_s: float = 30.0) -> None:
    """Wait until no webhook is in flight and no delivery is pending or processing."""
    deadline = time.monotonic() + within_s
    quiet = 0
    stats = None
    while time.monotonic() < deadline:
        await asyncio.to_thread(sim.wait_webhooks_idle, 5)
        stats = await store.stats(utcnow())
        if stats.pending == 0 and stats.processing == 0 and sim.webhooks.pending == 0:
            quiet += 1
            if quiet >= 3:  # stable across a few polls: echoes have come and gone
                return
        else:
            quiet = 0
        await asyncio.sleep(0.1)
    raise TimeoutError(f"not settled within {within_s}s: {stats}")
