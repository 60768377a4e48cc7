"""Idempotency keys: from the rule, the action's place, its subject and the fingerprint of
the triggering event's content (or the scheduled time), never the delivery.

Stored ledgers of running installations hold these keys: they must not change.
"""

from __future__ import annotations

import hashlib
import json

from hooks.events import EmojiEvent, Event, IssueEvent, MilestoneEvent, NoteEvent


def digest(*parts: object, size: int = 16) -> str:
    raw = json.dumps(parts, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(raw.encode()).hexdigest()[:size]


def event_fingerprint(event: Event) -> str:
    """The event's content: kind, action, object, updated_at and changes (not its delivery)."""
    if isinstance(event, IssueEvent):
        attrs = event.object_attributes
        changes = {k: v.model_dump(mode="json") for k, v in sorted(event.changes.items())}
        return digest(event.kind, event.action, attrs.id, attrs.updated_at, changes)
    if isinstance(event, MilestoneEvent):
        attrs_m = event.object_attributes
        return digest("milestone", event.action, attrs_m.id, attrs_m.updated_at, attrs_m.state)
    if isinstance(event, NoteEvent):  # an edit is a new change: its updated_at moves
        note = event.object_attributes
        return digest("note", event.action, note.id, note.updated_at)
    if isinstance(event, EmojiEvent):  # an award has its own id; revoking it is another event
        award = event.object_attributes
        return digest("emoji", event.action, award.id, award.name, award.awardable_id)
    return digest(
        "release",
        event.action,
        event.project_path,
        event.tag,
        event.released_at,
        event.created_at,
        event.description,
    )


def action_key(rule: str, index: int, action: str, subject: str | None, fingerprint: str) -> str:
    """Short, ASCII, no spaces and no '--' (it goes inside an HTML comment)."""
    return f"{rule}.{index}.{digest(rule, index, action, subject, fingerprint)}"


def once_key(action: str, subject: str | None, group: str) -> str:
    """The key of a once-group: one per action kind and subject across every rule naming it."""
    return f"once.{digest(action, subject, group)}"
