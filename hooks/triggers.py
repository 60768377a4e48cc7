"""When scheduled rules fire: the `on: schedule` model and its fire times."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from itertools import islice, takewhile
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from apscheduler.triggers.base import BaseTrigger
from dateutil.rrule import MONTHLY, WEEKLY, rrule, weekday
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
    if len(expr.split()) != 5:
        return f"bad cron {expr!r}: needs 5 fields (minute hour day month weekday)"
    try:
        cron_trigger(expr, "UTC")
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


@lru_cache(maxsize=1)
def _zone_names() -> dict[str, str]:
    return {name.lower(): name for name in available_timezones()}


def zone_problem(name: str) -> str | None:
    """None for a known IANA time zone, else what is wrong, naming the nearest known zone."""
    try:
        ZoneInfo(name)
        return None
    except (ZoneInfoNotFoundError, ValueError):
        pass
    names = _zone_names()
    near = difflib.get_close_matches(name.lower(), names, n=1)
    hint = f" (did you mean '{names[near[0]]}'?)" if near else ""
    return f"unknown time zone {name!r}{hint}"


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
            problem = zone_problem(value)
            if problem:
                raise ValueError(problem)
        return value

    def zone(self, default: str) -> ZoneInfo:
        """The rule's own zone, else `default` (the service's HOOKS_TIMEZONE)."""
        return ZoneInfo(self.timezone or default)

    @model_validator(mode="after")
    def _exactly_one_form(self) -> Schedule:
        forms = [name for name in ("cron", "monthly", "fortnightly") if getattr(self, name)]
        if len(forms) != 1:
            raise ValueError(
                "a schedule needs exactly one of 'cron', 'monthly' or 'fortnightly'"
                + (f", not {' and '.join(forms)}" if forms else "")
            )
        return self


# -- fire times -------------------------------------------------------------------------
#
# Monthly and fortnightly schedules are computed in local wall time with dateutil.rrule and
# only then given their zone: a 10:00 meeting stays at 10:00 across DST switches. A local
# time that does not exist (the spring-forward gap) moves forward by the gap; an ambiguous
# one (the autumn repeat) takes its first occurrence. Fortnightly counts 14 days from its
# start date, so ISO week numbering (53-week years) cannot disturb it, unlike cron's
# week='*/2'; the rrule start is always the schedule's own date, never "now".

_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def zone_of(schedule: Schedule, default_tz: str) -> ZoneInfo:
    """The schedule's zone, else the service default."""
    return schedule.zone(default_tz)


def localize(naive: datetime, zone: ZoneInfo) -> datetime:
    """A wall-clock time in `zone`: gaps move forward, repeats take the first."""
    aware = naive.replace(tzinfo=zone, fold=0)
    round_trip = aware.astimezone(UTC).astimezone(zone).replace(tzinfo=None)
    if round_trip != naive:  # in the gap: shift by how much the clock jumped
        shift = aware.utcoffset() - naive.replace(tzinfo=zone, fold=1).utcoffset()  # type: ignore[operator]
        aware = (naive + abs(shift)).replace(tzinfo=zone)
    return aware


def _rrule(schedule: Schedule, from_local: datetime) -> rrule:
    at = schedule.at
    if schedule.monthly is not None:
        day = _WEEKDAYS.index(schedule.monthly.weekday)
        start = from_local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        return rrule(
            MONTHLY,
            dtstart=start,
            byweekday=[weekday(day)(n) for n in schedule.monthly.nth],
            byhour=at.hour,
            byminute=at.minute,
            bysecond=0,
        )
    assert schedule.fortnightly is not None
    return rrule(WEEKLY, interval=2, dtstart=datetime.combine(schedule.fortnightly.start, at))


_CRON_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _cron_weekdays(field: str) -> str:
    """Crontab's day-of-week (0 or 7 = Sunday) as names: APScheduler 3 counts from Monday."""
    if field == "*" or not any(ch.isdigit() for ch in field):
        return field
    days: list[str] = []
    for part in field.split(","):
        spec, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if spec == "*":
            low, high = 0, 6
        elif "-" in spec:
            a, b = spec.split("-", 1)
            low, high = (
                (int(a) if a.isdigit() else _CRON_DAYS.index(a.lower())),
                (int(b) if b.isdigit() else _CRON_DAYS.index(b.lower())),
            )
        else:
            low = high = int(spec) if spec.isdigit() else _CRON_DAYS.index(spec.lower())
        if not 0 <= low <= high <= 7:
            raise ValueError(f"day of week {spec!r} must be within 0-7 (0 and 7 are Sunday)")
        days += [_CRON_DAYS[n] for n in range(low, high + 1, step)]
    return ",".join(dict.fromkeys(days))


def cron_trigger(expr: str, zone: ZoneInfo | str) -> Any:
    """APScheduler's CronTrigger for a standard five-field crontab, Sunday being 0."""
    from apscheduler.triggers.cron import CronTrigger

    minute, hour, day, month, dow = expr.split()
    return CronTrigger(
        minute=minute,
        hour=hour,
        day=day,
        month=month,
        day_of_week=_cron_weekdays(dow),
        timezone=zone,
    )


def _cron_times(schedule: Schedule, zone: ZoneInfo, after: datetime) -> Iterator[datetime]:
    assert schedule.cron is not None
    trigger = cron_trigger(schedule.cron, zone)
    previous = None
    moment = after
    while True:
        fire = trigger.get_next_fire_time(previous, moment)
        if fire is None:
            return
        if fire > after:
            yield fire
        previous, moment = fire, fire + timedelta(seconds=1)


def iter_fire_times(schedule: Schedule, after: datetime, default_tz: str) -> Iterator[datetime]:
    """Fire times strictly after `after`, in the schedule's zone, in order."""
    zone = zone_of(schedule, default_tz)
    if schedule.cron is not None:
        yield from _cron_times(schedule, zone, after)
        return
    local_after = after.astimezone(zone).replace(tzinfo=None)
    # Start a little early: an occurrence moved forward out of a gap may still be ahead.
    for naive in _rrule(schedule, local_after - timedelta(days=1)).xafter(
        local_after - timedelta(days=1), inc=True
    ):
        fire = localize(naive, zone)
        if fire > after:
            yield fire


def fire_times(schedule: Schedule, after: datetime, count: int, default_tz: str) -> list[datetime]:
    """The next `count` fire times strictly after `after`."""
    return list(islice(iter_fire_times(schedule, after, default_tz), count))


def occurrences_between(
    schedule: Schedule, start: datetime, end: datetime, default_tz: str
) -> list[datetime]:
    """Fire times in (start, end]."""
    return list(takewhile(lambda t: t <= end, iter_fire_times(schedule, start, default_tz)))


class RuleTrigger(BaseTrigger):  # type: ignore[misc]  # APScheduler 3 has no type hints
    """An APScheduler 3 trigger firing exactly at `fire_times` (zone passed explicitly)."""

    def __init__(self, schedule: Schedule, default_tz: str) -> None:
        self.schedule = schedule
        self.default_tz = default_tz
        self.timezone = zone_of(schedule, default_tz)

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        after = previous_fire_time or (now - timedelta(microseconds=1))
        return next(iter_fire_times(self.schedule, after, self.default_tz), None)

    def __str__(self) -> str:
        return f"rule trigger ({self.timezone})"


def apscheduler_trigger(schedule: Schedule, default_tz: str) -> BaseTrigger:
    """The APScheduler 3 trigger for a schedule, its zone set explicitly."""
    return RuleTrigger(schedule, default_tz)
