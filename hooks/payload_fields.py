"""The field types and basic blocks every webhook payload model shares (`hooks.events`).

Kept apart from the event models so that module stays readable as event kinds are added.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, model_validator


def parse_datetime(value: Any) -> Any:
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


def parse_date(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return date.fromisoformat(value.strip()[:10])
    except ValueError:
        return None


def storable_key(value: str | None) -> str | None:
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


Timestamp = Annotated[datetime | None, BeforeValidator(parse_datetime)]
KeyText = Annotated[str | None, AfterValidator(storable_key)]
Day = Annotated[date | None, BeforeValidator(parse_date)]


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
