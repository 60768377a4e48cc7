"""Typed models of the GitLab webhook payloads the service acts on."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

# The X-Gitlab-Event header values the service handles, mapped to the event kind
# used everywhere else (rule triggers, logs, metrics). Work items arrive as
# "Issue Hook" with object_kind "work_item"; the kind is then refined below.
HANDLED_EVENTS: dict[str, str] = {
    "Issue Hook": "issue",
    "Confidential Issue Hook": "confidential_issue",
    "Work Item Hook": "work_item",
    "Release Hook": "release",
    "Milestone Hook": "milestone",
}
# Each kind's usual header name (the dedup key of a delivery hashes it with the body).
KIND_HEADERS: dict[str, str] = {kind: header for header, kind in HANDLED_EVENTS.items()}


class EventParseError(ValueError):
    """A stored payload cannot be read as the event its header names."""


def _parse_datetime(value: Any) -> Any:
    """Accept both formats GitLab sends: ISO 8601 and '2017-09-15 16:50:55 UTC'."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if not text:
        return None
    if text.endswith(" UTC"):
        text = text[:-4].replace(" ", "T") + "+00:00"
    elif text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        # An unreadable timestamp is kept out of the model rather than failing
        # the whole event: no rule should stop working over a cosmetic field.
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _parse_date(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return date.fromisoformat(value.strip()[:10])
    except ValueError:
        return None


def _storable_key(value: str | None) -> str | None:
    """A project path or tag names the subject in keys and columns: PostgreSQL text holds
    neither a NUL nor a lone surrogate, and no GitLab path or tag has one."""
    if value is not None:
        if "\x00" in value:
            raise ValueError("holds a NUL character, which no GitLab path or tag has")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ValueError("holds a lone surrogate, which no GitLab path or tag has") from exc
    return value


Timestamp = Annotated[datetime | None, BeforeValidator(_parse_datetime)]
KeyText = Annotated[str | None, AfterValidator(_storable_key)]
Day = Annotated[date | None, BeforeValidator(_parse_date)]


class Model(BaseModel):
    """Base of payload models: unknown fields are kept, absent ones default."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    @model_validator(mode="before")
    @classmethod
    def _nulls_are_absent(cls, data: Any) -> Any:
        # GitLab sends null for many fields it has no value for; a declared
        # field then takes its default instead of failing validation.
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if v is not None or k not in cls.model_fields}
        return data


class User(Model):
    id: int | None = None
    name: str | None = None
    username: str | None = None
    email: str | None = None


class Project(Model):
    id: int | None = None
    name: str | None = None
    path_with_namespace: KeyText = None
    web_url: str | None = None
    namespace: str | None = None
    visibility_level: int | None = None


class Group(Model):
    """The `group` block some GitLab versions add to a group milestone's event."""

    group_id: int | None = None
    group_name: str | None = None
    group_path: str | None = None
    full_path: KeyText = None


class Label(Model):
    id: int | None = None
    title: str = ""
    color: str | None = None
    project_id: int | None = None
    group_id: int | None = None


class Change(Model):
    previous: Any = None
    current: Any = None


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


Event = IssueEvent | ReleaseEvent | MilestoneEvent


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
        return IssueEvent.model_validate(data)
    except RecursionError as exc:
        raise EventParseError(f"{kind} payload is nested too deeply") from exc
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise EventParseError(f"{kind} payload: {where}: {first['msg']}") from exc
