"""When scheduled rules fire: the `on: schedule` model and its fire times."""

from __future__ import annotations

import re
from datetime import date, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]

_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: object) -> object:
    """Read '90s', '15m', '12h', '1d', '2w' (or plain seconds) as a timedelta."""
    if isinstance(value, int | float):
        return timedelta(seconds=value)
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match:
            return timedelta(seconds=int(match.group(1)) * _UNIT_SECONDS[match.group(2)])
    return value


def validate_cron(expr: str) -> str | None:
    """None for a valid five-field crontab, else what is wrong with it."""
    from apscheduler.triggers.cron import CronTrigger

    if len(expr.split()) != 5:
        return f"bad cron {expr!r}: needs 5 fields (minute hour day month weekday)"
    try:
        CronTrigger.from_crontab(expr, timezone="UTC")
    except ValueError as exc:
        return f"bad cron {expr!r}: {exc}"
    return None


class MonthlyWeekdays(BaseModel):
    """Given weekdays of the month, e.g. the 2nd and 4th Wednesday (-1 is the last)."""

    model_config = ConfigDict(extra="forbid")

    weekday: Weekday = Field(description="Day of the week, in full: 'wednesday'.")
    nth: list[int] = Field(
        description="Which occurrences in the month: 1 to 5, or -1 for the last.", min_length=1
    )

    @field_validator("nth")
    @classmethod
    def _valid_occurrences(cls, value: list[int]) -> list[int]:
        bad = [n for n in value if n not in (1, 2, 3, 4, 5, -1)]
        if bad:
            raise ValueError(f"nth must be 1 to 5 or -1 (the last), not {bad}")
        return sorted(set(value))


class Fortnightly(BaseModel):
    """Every two weeks on the weekday of `start`, counted from `start`."""

    model_config = ConfigDict(extra="forbid")

    start: date = Field(description="The first occurrence; later ones follow every 14 days.")


class Schedule(BaseModel):
    """An `on: schedule` trigger: exactly one of cron, monthly or fortnightly."""

    model_config = ConfigDict(extra="forbid")

    cron: str | None = Field(
        default=None, description="Five-field crontab: 'minute hour day month weekday'."
    )
    monthly: MonthlyWeekdays | None = None
    fortnightly: Fortnightly | None = None
    at: time = Field(
        default=time(9, 0), description="Time of day for monthly and fortnightly, 'HH:MM'."
    )
    timezone: str | None = Field(
        default=None, description="IANA time zone, e.g. 'Europe/Berlin'; else HOOKS_TIMEZONE."
    )
    grace: timedelta = Field(
        default=timedelta(days=1),
        description="How late a run missed during downtime may still run ('12h', '1d').",
    )

    _parse_grace = field_validator("grace", mode="before")(
        classmethod(lambda cls, v: parse_duration(v))
    )

    @field_validator("cron")
    @classmethod
    def _valid_cron(cls, value: str | None) -> str | None:
        if value is not None:
            problem = validate_cron(value)
            if problem:
                raise ValueError(problem)
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError) as exc:
                raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @model_validator(mode="after")
    def _exactly_one_form(self) -> Schedule:
        forms = [name for name in ("cron", "monthly", "fortnightly") if getattr(self, name)]
        if len(forms) != 1:
            raise ValueError(
                "a schedule needs exactly one of 'cron', 'monthly' or 'fortnightly'"
                + (f", not {' and '.join(forms)}" if forms else "")
            )
        return self
