"""What the inbox and the audit trail hold, as the rest of the service sees it."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from hooks.events import KIND_HEADERS


def dedup_key(idempotency_key: str | None, kind: str, body: bytes) -> str:
    """GitLab's Idempotency-Key when present, else a hash of the event's kind and body.

    `kind` is the resolved kind (hooks.events.event_kind), not the header: one event under two
    header spellings ("Issue Hook" and "Work Item Hook" for a work item) is processed as the
    same event, so it is stored once; two kinds with one body (an issue body sent as a work
    item) trigger different rules and stay apart. The kind is hashed as its usual header
    name, so keys of deliveries stored before (whose header was that name) stay the same.
    """
    if idempotency_key:
        return "key:" + idempotency_key.strip()[:190]
    spelling = KIND_HEADERS.get(kind, kind)
    digest = hashlib.sha256(spelling.encode() + b"\0" + body).hexdigest()
    return "sha256:" + digest


@dataclass(frozen=True)
class NewDelivery:
    """What the intake stores for one accepted webhook."""

    dedup_key: str
    event_header: str
    kind: str | None
    project: str | None
    event_uuid: str | None
    headers: dict[str, str]
    body: bytes
    received_at: datetime


@dataclass(frozen=True)
class Delivery:
    """A stored delivery as the worker and the CLI see it."""

    id: int
    event_header: str
    kind: str | None
    project: str | None
    event_uuid: str | None
    headers: dict[str, str]
    body: bytes
    received_at: datetime
    status: str
    attempts: int
    next_attempt_at: datetime
    finished_at: datetime | None
    last_error: str | None


@dataclass(frozen=True)
class AuditRecord:
    """One line of the audit trail: an event seen, a rule evaluated, an action taken."""

    kind: str
    outcome: str
    detail: dict[str, Any] = field(default_factory=dict)
    subject: str | None = None
    rule: str | None = None
    # The version of the rules that planned it (a commit SHA or the folder's content hash).
    rules_version: str | None = None


def stamped(records: Sequence[AuditRecord], version: str) -> list[AuditRecord]:
    """The records, each naming the rules version that planned them (if none named yet)."""
    return [r if r.rules_version else replace(r, rules_version=version or None) for r in records]


@dataclass(frozen=True)
class QueueStats:
    pending: int
    processing: int
    failed: int
    oldest_pending_age_s: float


def delivery_from_row(row: Any) -> Delivery:
    return Delivery(
        id=row.id,
        event_header=row.event_header,
        kind=row.kind,
        project=row.project,
        event_uuid=row.event_uuid,
        headers=json.loads(row.headers),
        body=bytes(row.body),
        received_at=row.received_at,
        status=row.status,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        finished_at=row.finished_at,
        last_error=row.last_error,
    )


def new_delivery_row(new: NewDelivery) -> dict[str, Any]:
    """The `deliveries` row of a delivery just accepted (pending, due at once)."""
    return {
        "dedup_key": new.dedup_key,
        "event_header": new.event_header,
        "kind": new.kind,
        "project": new.project,
        "event_uuid": new.event_uuid,
        "headers": json.dumps(new.headers),
        "body": new.body,
        "received_at": new.received_at,
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": new.received_at,
    }


def audit_rows(
    records: Sequence[AuditRecord],
    now: datetime,
    delivery_id: int | None = None,
    run_key: str | None = None,
) -> list[dict[str, Any]]:
    return [
        {
            "delivery_id": delivery_id,
            "run_key": run_key,
            "subject": r.subject,
            "rule": r.rule,
            "kind": r.kind,
            "outcome": r.outcome,
            "detail": json.dumps(r.detail, default=str, sort_keys=True),
            "rules_version": r.rules_version,
            "created_at": now,
        }
        for r in records
    ]
