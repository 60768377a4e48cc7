"""What note and emoji events tell the engine: the comment, its command, the emoji, and the
rule that a private comment's text stays in its issue."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hooks.actions.base import ActionKind, PlanError
from hooks.events import EmojiEvent, Event, NoteEvent
from hooks.rules import templates
from hooks.rules.comments import parse_command
from hooks.rules.conditions import Facts
from hooks.rules.reader import Reader
from hooks.rules.vocabulary import role_name


def said(event: Event | None, facts: Facts, bot: str | None, reader: Reader) -> None:
    """Fill the facts who acted, and what a comment or reaction says, give the conditions."""
    if event is None:  # a scheduled run
        return
    if event.user is not None and event.user.id is not None:
        uid, where = event.user.id, facts.project or event.project_path
        facts.actor = event.user.username
        # Facts are built once per subject and plan, and `access` is read once by them.
        facts.load_access = lambda: reader.member_access(where, uid)
    if not isinstance(event, NoteEvent | EmojiEvent):
        return
    issue_confidential = bool(event.issue and event.issue.confidential)
    if isinstance(event, NoteEvent):
        facts.comment = event.object_attributes.note
        facts.command = parse_command(facts.comment, bot)
        facts.private_text = event.private
        facts.internal_comment = event.private and not issue_confidential
        return
    facts.emoji = event.object_attributes.name
    if event.note is not None:  # a reaction to a comment: that comment's text
        note = event.note
        facts.comment = note.note
        # GitLab's emoji payload does not say whether the comment is internal (its note
        # attributes carry no such flag): unless the payload says, it is taken as internal.
        said_so = bool({"internal", "confidential"} & note.model_fields_set)
        internal = note.internal or note.confidential if said_so else True
        facts.private_text = internal or issue_confidential
        facts.internal_comment = internal and not issue_confidential


def said_scope(
    event: Event | None,
    payload: dict[str, Any],
    facts: Facts,
    bot: str | None,
    want: Callable[[str], bool],
) -> dict[str, Any]:
    """`bot`, `comment`, `command`, `emoji` and (when a template names it) `author_role`."""
    scope = {
        "bot": bot or "",
        "comment": comment_scope(event, payload),
        "command": facts.command.as_scope() if facts.command else None,
        "emoji": payload.get("object_attributes") if facts.emoji else None,
    }
    if want("author_role"):
        scope["author_role"] = role_name(facts.access)
    return scope


def comment_scope(event: Event | None, payload: dict[str, Any]) -> dict[str, Any] | None:
    """`comment` in templates: the note of a note event, or the note an emoji was awarded to."""
    if isinstance(event, NoteEvent):
        return {**payload["object_attributes"], "author": payload.get("user")}
    if isinstance(event, EmojiEvent) and event.note is not None:
        note: dict[str, Any] | None = payload.get("note")
        return note
    return None


def keep_in_issue(
    facts: Facts,
    kind: ActionKind[Any],
    value: Any,
    subject: str | None,
    target: tuple[str, int] | None,
    home: str | None,
) -> None:
    """Refuse an action that would carry an internal or confidential comment's text out of its
    issue (to another issue, a new issue, a chat or a mail: whatever does not land on the
    subject); no rule setting allows it (unlike allow_confidential_leak for a confidential
    issue)."""
    if not facts.private_text or subject is None:
        return
    elsewhere = (target is not None and f"{target[0]}#{target[1]}" != subject) or home is not None
    elsewhere = elsewhere or not kind.needs_subject
    if elsewhere and any(templates.reads_comment(source) for _, source in kind.templates(value)):
        where = f"{target[0]}#{target[1]}" if target else home or f"its {kind.name} target"
        raise PlanError(
            f"refused: {kind.name} would carry the text of an internal comment or a comment on a"
            f" confidential issue from {subject} to {where}; such text stays in its issue"
        )
