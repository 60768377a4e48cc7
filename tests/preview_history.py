"""Recorded history for the preview tests: real payloads stored as the intake stores them."""

from __future__ import annotations

import json
import shutil
from datetime import datetime
from pathlib import Path
from typing import Any

from hooks.events import event_kind
from hooks.storage.records import NewDelivery, dedup_key
from hooks.storage.store import Store
from hooks.testing.simulator import Simulator
from tests.conftest import FIXTURES
from tests.e2e import RULE_PACK

# The shipped comment of a first roll-over, and the change a team proposes to it.
ROLLOVER_SENTENCE = "it was still open when the sprint closed"
PROPOSED_SENTENCE = "it was not finished when the sprint ended"


def payload(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return data


def sprint_closed(sim: Simulator, title: str) -> dict[str, Any]:
    """GitLab's group milestone close payload (`milestone_group_close.json`, as GitLab sends
    it for a group milestone: `"project": null`, `group_id` set) for a sprint of the seed."""
    sprint = sim.milestone(title)
    data = payload("milestone_group_close.json")
    data["object_attributes"].update(
        id=sprint["id"],
        iid=sprint["iid"],
        title=sprint["title"],
        start_date=sprint["start_date"],
        due_date=sprint["due_date"],
        group_id=sprint["group_id"],
    )
    return data


async def record(
    store: Store, header: str, body: dict[str, Any], at: datetime, key: str | None = None
) -> int:
    """Store a delivery as `POST /webhook` does (received at `at`, not yet processed)."""
    raw = json.dumps(body).encode()
    kind = event_kind(header, body)
    delivery_id, _duplicate = await store.add_delivery(
        NewDelivery(
            dedup_key=dedup_key(key, kind or header, raw),
            event_header=header,
            kind=kind,
            project=(body.get("project") or {}).get("path_with_namespace"),
            event_uuid=None,
            headers={"X-Gitlab-Event": header},
            body=raw,
            received_at=at,
        )
    )
    return delivery_id


def pack_copy(tmp_path: Path, file: str, old: str, new: str, name: str = "new-rules") -> Path:
    """The shipped rule pack with one change in one file, as a merge request proposes it."""
    target = tmp_path / name
    shutil.copytree(RULE_PACK, target)
    text = (target / file).read_text()
    assert old in text, f"{old!r} not in {file}"
    (target / file).write_text(text.replace(old, new))
    return target
