"""Idempotency keys and fingerprints, pinned: stored ledgers of running installations hold them.

The values were computed with the code before the digest had one home (hooks.rules.keys); a
change here means every installation would act again on what it already did.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from hooks.catchup import reconcile_issues, reconcile_milestones
from hooks.events import parse_event
from hooks.rules import keys
from hooks.rules.keys import action_key, digest, event_fingerprint, once_key
from tests.conftest import fixture_bytes


@pytest.mark.parametrize(
    ("name", "header", "fingerprint"),
    [
        ("issue_update_labels.json", "Issue Hook", "494ca39e0b04c22e"),
        ("milestone_close.json", "Milestone Hook", "526f827d3b2c10bc"),
        ("release_create.json", "Release Hook", "05f40e0d6fa45b60"),
    ],
)
def test_event_fingerprints_are_pinned(name: str, header: str, fingerprint: str) -> None:
    event = parse_event(header, json.loads(fixture_bytes(name)))
    assert event_fingerprint(event) == fingerprint


def test_action_and_once_keys_are_pinned() -> None:
    key = action_key(
        "blocked-needs-attention", 0, "set_health", "demo/product#1", "0123456789abcdef"
    )
    assert key == "blocked-needs-attention.0.f7f8d6c43315537e"
    assert once_key("comment", "demo/product#1", "health") == "once.18e6d09fa72aa9f8"


def test_reconciliation_fingerprints_are_pinned_and_use_the_same_digest() -> None:
    since = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    assert reconcile_issues.digest is keys.digest
    assert reconcile_milestones.digest is keys.digest
    assert digest("issue", "update", 42, since, {"labels": ["a"]}) == "c25d9251e0f6012c"
    assert digest("milestone", "close", 7, "2026-11-23T09:00:00Z") == "27bc1eea374019e7"
    assert digest("x", size=8) == "cd65ea2c"
