"""The seam between the queue and what acts on events: the Dispatcher interface."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal, Protocol

from hooks.events import Event
from hooks.storage.records import AuditRecord, Delivery

Outcome = Literal["done", "partial", "failed"]


@dataclass(frozen=True)
class DispatchResult:
    """What became of one event: its final outcome and the audit lines explaining it."""

    outcome: Outcome
    records: list[AuditRecord] = field(default_factory=list)
    error: str | None = None


class RetryableError(Exception):
    """Raised by a dispatcher when trying the whole delivery again later may succeed."""


class Dispatcher(Protocol):
    """Turns one parsed event into effects; raising RetryableError asks for a retry."""

    async def dispatch(self, delivery: Delivery, event: Event) -> DispatchResult: ...


# Deliveries of kinds that are not rule events (the rules project's pushes and merge requests)
# go to the handler of their kind, unparsed: each reads its own payload.
DeliveryHandler = Callable[[Delivery], Awaitable[DispatchResult]]


def event_summary(event: Event) -> dict[str, object]:
    """A short, safe description of an event for the audit trail."""
    summary: dict[str, object] = {
        "kind": event.kind,
        "action": event.action,
        "project": event.project_path,
        "subject": event.subject,
        "user": event.user.username if event.user else None,
    }
    title = getattr(getattr(event, "object_attributes", None), "title", None) or getattr(
        event, "name", None
    )
    if title:
        summary["title"] = title
    return summary


class RecordingDispatcher:
    """Records each parsed event in the audit trail and does nothing else."""

    async def dispatch(self, delivery: Delivery, event: Event) -> DispatchResult:
        record = AuditRecord(
            kind="event", outcome="recorded", detail=event_summary(event), subject=event.subject
        )
        return DispatchResult(outcome="done", records=[record])
