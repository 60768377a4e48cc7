"""`limits` end to end: a run is cut at `per_run` / `per_hour` items, the rest left undone and
recorded in the delivery's trace and the audit."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hooks.storage.store import Store
from hooks.testing.simulator import Simulator, SimulatorThread
from tests.e2e import (
    as_user,
    close_milestone,
    hooked_service,
    service_settings,
    settle,
    store_of,
)
from tests.test_approvals import sprint_seed

LIMITED = """
rules:
- name: tag-leftovers
  on: {milestone: [close]}
  for_each: {issues: {project: demo/product, milestone: closed}}
  limits: {per_run: 4, per_hour: 6}
  do:
    - add_labels: [leftover]
      once: per_subject
    - comment: "Left in the closed sprint."
      once: per_subject
"""


@pytest.fixture
def sim() -> Iterator[Simulator]:
    simulator = Simulator(sprint_seed(10))
    with SimulatorThread(simulator):
        yield simulator


async def limited_records(store: Store) -> list[dict[str, object]]:
    """The `limited` trace lines of every milestone delivery, oldest first."""
    found = []
    for delivery in reversed(await store.list_deliveries(kind="milestone")):
        audit = await store.audit_for(delivery_id=delivery.id)
        found += [a for a in audit if a["outcome"] == "limited"]
    return found


def tagged(sim: Simulator) -> list[int]:
    return sorted(i["iid"] for i in sim.issues("demo/product") if "leftover" in i["labels"])


async def test_a_run_is_cut_at_per_run_items_and_the_rest_is_recorded(
    sim: Simulator, tmp_path: Path
) -> None:
    server = await hooked_service(sim, service_settings(sim, tmp_path, LIMITED))
    try:
        close_milestone(sim, "Sprint 42")
        await settle(sim, store_of(server))
        [limited] = await limited_records(store_of(server))
    finally:
        await server.close()

    assert len(tagged(sim)) == 4
    assert all(len(sim.notes("demo/product", iid)) == 1 for iid in tagged(sim))
    assert limited["rule"] == "tag-leftovers"
    assert limited["detail"]["reason"] == "limits.per_run 4; 6 item(s) left undone"
    undone = {f"demo/product#{i['iid']}" for i in sim.issues("demo/product")} - {
        f"demo/product#{iid}" for iid in tagged(sim)
    }
    assert set(limited["detail"]["left_undone"]) == undone


async def test_per_hour_counts_items_across_runs(sim: Simulator, tmp_path: Path) -> None:
    server = await hooked_service(sim, service_settings(sim, tmp_path, LIMITED))
    try:
        close_milestone(sim, "Sprint 42")
        await settle(sim, store_of(server))
        sprint = sim.milestone("Sprint 42")
        milestone = as_user(sim, "alice").groups.get("demo", lazy=True).milestones.get(sprint["id"])
        milestone.state_event = "activate"  # reopened, then closed again: a second run
        milestone.save()
        close_milestone(sim, "Sprint 42")
        await settle(sim, store_of(server))
        first, second = await limited_records(store_of(server))
    finally:
        await server.close()

    assert first["detail"]["reason"] == "limits.per_run 4; 6 item(s) left undone"
    assert str(second["detail"]["reason"]).startswith("limits.per_run 4; limits.per_hour 6 (4 done")
    # The 4 items done in the first run are done already; of the 6 others, 2 fit the hour.
    assert len(second["detail"]["left_undone"]) == 4
    assert len(tagged(sim)) == 6
