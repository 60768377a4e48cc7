"""Typed models of the GitLab webhook payloads the service acts on."""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import AliasChoices, Field, ValidationError

from hooks.payload_fields import Change as Change
from hooks.payload_fields import Day, KeyText, Label, Model, Project, Timestamp, User
from hooks.payload_fields import Group as Group

# The X-Gitlab-Event header values the service handles, mapped to the event kind
# used everywhere else (rule triggers, logs, metrics). Work items arrive as
# "Issue Hook" with object_kind "work_item"; the kind is then refined below.
HANDLED_EVENTS: dict[str, str] = {
    "Issue Hook": "issue",
    "Confidential Issue Hook": "confidential_issue",
    "Work Item Hook": "work_item",
    "Release Hook": "release",
    "Milestone Hook": "milestone",
    # A note that is internal or on a confidential issue goes to the confidential note hooks
    # (GitLab's Notes::PostProcessService); both spellings are one kind, `note`.
    "Confidential Note Hook": "note",
    "Note Hook": "note",
    "Emoji Hook": "emoji",
}
# Each kind's usual header name (the dedup key of a delivery hashes it with the body).
KIND_HEADERS: dict[str, str] = {kind: header for header, kind in HANDLED_EVENTS.items()}


class EventParseError(ValueError):
    """A stored payload cannot be read as the event its header names."""


class IssueAttributes(Model):
    id: int | None = None
    iid: int | None = None
    title: str | None = None
    description: str | None = None
    state: str | None = None
    state_id: int | None = None
    action: str | None = None
    confidential: bool = False
    type: str | None = None
    milestone_id: int | None = None
    iteration_id: int | None = None
    author_id: int | None = None
    assignee_ids: list[int] = Field(default_factory=list)
    due_date: Day = None
    created_at: Timestamp = None
    updated_at: Timestamp = None
    closed_at: Timestamp = None
    health_status: str | None = None
    weight: int | None = None
    url: str | None = None
    labels: list[Label] = Field(default_factory=list)


class MilestoneAttributes(Model):
    id: int | None = None
    iid: int | None = None
    title: str | None = None
    description: str | None = None
    state: str | None = None
    start_date: Day = None
    due_date: Day = None
    created_at: Timestamp = None
    updated_at: Timestamp = None
    project_id: int | None = None
    group_id: int | None = None


# The milestone fields GitLab puts in a milestone event's object_attributes.
MILESTONE_HOOK_FIELDS = (
    "id",
    "iid",
    "title",
    "description",
    "state",
    "created_at",
    "updated_at",
    "due_date",
    "start_date",
    "group_id",
    "project_id",
)


class _Event(Model):
    object_kind: str | None = None
    project: Project = Field(default_factory=Project)
    user: User | None = None

    @property
    def project_path(self) -> str:
        return self.project.path_with_namespace or str(self.project.id or "")


class IssueEvent(_Event):
    """An issue, confidential issue or work item event."""

    kind: Literal["issue", "confidential_issue", "work_item"] = "issue"
    event_type: str | None = None
    object_attributes: IssueAttributes = Field(default_factory=IssueAttributes)
    labels: list[Label] = Field(default_factory=list)
    assignees: list[User] = Field(default_factory=list)
    changes: dict[str, Change] = Field(default_factory=dict)

    @property
    def action(self) -> str:
        return self.object_attributes.action or "update"

    @property
    def label_titles(self) -> list[str]:
        # Newer payloads carry labels at the top level and in object_attributes;
        # the top-level list is the current set.
        source = self.labels or self.object_attributes.labels
        return [label.title for label in source]

    @property
    def subject(self) -> str:
        return f"{self.project_path}#{self.object_attributes.iid}"

    def changed_labels(self) -> tuple[list[str], list[str]]:
        """Label titles (added, removed) by this event, from `changes.labels`."""
        change = self.changes.get("labels")
        if change is None:
            return [], []
        before, after = _titles(change.previous), _titles(change.current)
        return [t for t in after if t not in before], [t for t in before if t not in after]


def _titles(labels: Any) -> list[str]:
    if not isinstance(labels, list):
        return []
    return [str(item["title"]) for item in labels if isinstance(item, dict) and "title" in item]


class ReleaseEvent(_Event):
    """A release event: no `user`, no `object_attributes`."""

    kind: Literal["release"] = "release"
    id: int | None = None
    tag: KeyText = None
    name: str | None = None
    description: str | None = None
    url: str | None = None
    action: str = "create"
    created_at: Timestamp = None
    released_at: Timestamp = None

    @property
    def subject(self) -> str:
        return f"{self.project_path}@{self.tag}"


class MilestoneEvent(_Event):
    """A milestone event (GitLab 18.2+): no `user`.

    A group milestone has no project: GitLab sends `"project": null` (its builder reads the
    milestone's project) with `object_attributes.group_id` set; newer versions add a
    `group` block with the group's path.
    """

    kind: Literal["milestone"] = "milestone"
    object_attributes: MilestoneAttributes = Field(default_factory=MilestoneAttributes)
    group: Group | None = None
    action: str = "create"

    @property
    def group_path(self) -> str | None:
        """The owning group's path (or id) for a group milestone, else None."""
        attrs = self.object_attributes
        if attrs.group_id is None or attrs.project_id is not None:
            return None
        if self.group is not None and self.group.full_path:
            return self.group.full_path
        return str(attrs.group_id)

    @property
    def subject(self) -> str:
        iid = self.object_attributes.iid
        group = self.group_path
        if group is None:
            return f"{self.project_path}%{iid}"
        return f"{group}%{iid}" if not group.isdigit() else f"group {group}%{iid}"


# What a comment or a reaction can be on; rules act on issues and work items only.
ISSUE_NOTEABLES = ("Issue", "WorkItem")


class NoteAttributes(Model):
    """A note's hook attributes (GitLab's NoteBuilder) and the event's `action` (16.11+)."""

    id: int | None = None
    note: str = ""
    noteable_type: str | None = None
    noteable_id: int | None = None
    author_id: int | None = None
    action: str | None = None
    system: bool = False
    # Not in every GitLab's hook attributes; `event_type: confidential_note` always tells.
    internal: bool = False
    confidential: bool = False
    discussion_id: str | None = None
    created_at: Timestamp = None
    updated_at: Timestamp = None
    url: str | None = None


class EmojiAttributes(Model):
    id: int | None = None
    name: str = ""
    user_id: int | None = None
    awardable_type: str | None = None
    awardable_id: int | None = None
    action: str | None = None
    created_at: Timestamp = None
    updated_at: Timestamp = None
    awarded_on_url: str | None = None


class _OnIssue(_Event):
    """An event about something said on an issue: its `issue` block is the subject."""

    event_type: str | None = None
    # GitLab names the block after the noteable's class: `issue` (work items are issues).
    issue: IssueAttributes | None = Field(None, validation_alias=AliasChoices("issue", "work_item"))
    merge_request: dict[str, Any] | None = None

    def on_issue(self) -> bool:
        return self.issue is not None and self.issue.iid is not None

    @property
    def subject(self) -> str:
        if self.issue is not None and self.issue.iid is not None:
            return f"{self.project_path}#{self.issue.iid}"
        if self.merge_request is not None:
            return f"{self.project_path}!{self.merge_request.get('iid')}"
        return self.project_path


class NoteEvent(_OnIssue):
    """A comment made or edited (`Note Hook`, `Confidential Note Hook`)."""

    kind: Literal["note"] = "note"
    object_attributes: NoteAttributes = Field(default_factory=NoteAttributes)

    @property
    def action(self) -> str:
        return self.object_attributes.action or "create"  # GitLab before 16.11 sent none

    @property
    def private(self) -> bool:
        """An internal note or one on a confidential issue: its text stays in its issue."""
        attrs = self.object_attributes
        return (
            self.event_type == "confidential_note"
            or attrs.internal
            or attrs.confidential
            or bool(self.issue and self.issue.confidential)
        )

    def unsupported(self) -> str | None:
        """Why rules cannot act on this comment, or None."""
        attrs = self.object_attributes
        if attrs.noteable_type not in ISSUE_NOTEABLES or not self.on_issue():
            what = attrs.noteable_type or "unknown object"
            return f"a comment on a {what}; rules act on comments on issues and work items"
        if attrs.system:
            return "a system note (GitLab's own record of a change), not a comment"
        return None


class EmojiEvent(_OnIssue):
    """An emoji reaction awarded or revoked (`Emoji Hook`, GitLab 16.2+, GA in 17.5)."""

    kind: Literal["emoji"] = "emoji"
    object_attributes: EmojiAttributes = Field(default_factory=EmojiAttributes)
    note: NoteAttributes | None = None

    @property
    def action(self) -> str:
        return self.event_type or self.object_attributes.action or "award"

    def unsupported(self) -> str | None:
        awardable = self.object_attributes.awardable_type
        if awardable == "Note" and self.note is not None:
            awardable = f"comment on a {self.note.noteable_type}"
            if self.note.noteable_type in ISSUE_NOTEABLES and self.on_issue():
                return None
        elif awardable in ISSUE_NOTEABLES and self.on_issue():
            return None
        return f"an emoji on a {awardable or 'unknown object'}; rules act on issues and work items"


Event = IssueEvent | ReleaseEvent | MilestoneEvent | NoteEvent | EmojiEvent


def event_kind(header: str, payload: dict[str, Any]) -> str | None:
    """The kind of a delivery from its X-Gitlab-Event header, or None if unhandled."""
    kind = HANDLED_EVENTS.get(header)
    if kind in ("issue", "confidential_issue") and payload.get("object_kind") == "work_item":
        attrs = payload.get("object_attributes")
        # GitLab 17 sent an issue edited through the work item views as a work_item
        # (fixed by gitlab-org/gitlab!180959); its type still says Issue.
        if not (isinstance(attrs, dict) and attrs.get("type") in ("Issue", "Incident")):
            return "work_item"
    return kind


def parse_event(header: str, body: bytes | str | dict[str, Any]) -> Event:
    """Read a stored delivery into its typed event; raise EventParseError if it cannot be."""
    if isinstance(body, dict):
        payload = body
    else:
        try:
            payload = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise EventParseError(f"body is not JSON: {exc}") from exc
        except RecursionError as exc:
            raise EventParseError("body is not JSON this service reads: nested too deeply") from exc
    if not isinstance(payload, dict):
        raise EventParseError(f"body is a JSON {type(payload).__name__}, not an object")
    kind = event_kind(header, payload)
    if kind is None:
        raise EventParseError(f"event kind {header!r} is not handled")
    try:
        data = {**payload, "kind": kind}
        if kind == "release":
            return ReleaseEvent.model_validate(data)
        if kind == "milestone":
            return MilestoneEvent.model_validate(data)
        if kind == "note":
            return NoteEvent.model_validate(data)
        if kind == "emoji":
            return EmojiEvent.model_validate(data)
        return IssueEvent.model_validate(data)
    except RecursionError as exc:
        raise EventParseError(f"{kind} payload is nested too deeply") from exc
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise EventParseError(f"{kind} payload: {where}: {first['msg']}") from exc
