"""When scheduled rules fire: the `on: schedule` model and its fire times."""

from __future__ import annotations

import difflib
import heapq
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from itertools import islice, takewhile
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from apscheduler.triggers.base import BaseTrigger
from cronsim import CronSim, CronSimError
from dateutil.rrule import MONTHLY, WEEKLY, rrule, weekday
from dateutil.tz import resolve_imaginary
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


# What crontab (Vixie cron, cronie, Debian's cron) accepts in a field, split at , - and /:
# a star, a number, or a three-letter day or month name. Other dialects' L, W, # and ? are
# refused rather than given a meaning crontab does not have.
_CRON_TOKEN = re.compile(r"^(\*|\d+|[A-Za-z]{3})$")
_CRON_FIELDS = {
    "Bad minute": "minute {!r} must be within 0-59",
    "Bad hour": "hour {!r} must be within 0-23",
    "Bad day-of-month": "day of month {!r} must be within 1-31 (and exist in the months given)",
    "Bad month": "month {!r} must be within 1-12 or jan-dec",
    "Bad day-of-week": "day of week {!r} must be within 0-7 (0 and 7 are Sunday) or sun-sat",
}


def validate_cron(expr: str) -> str | None:
    """None for a valid five-field crontab, else what is wrong with it."""
    fields = expr.split()
    if len(fields) != 5:
        return f"bad cron {expr!r}: needs 5 fields (minute hour day month weekday)"
    for field in fields:
        for token in re.split(r"[,/-]", field):
            if not _CRON_TOKEN.match(token):
                return (
                    f"bad cron {expr!r}: {token!r} is not crontab "
                    "(numbers, names like mon or jan, * , - /)"
                )
    try:
        CronSim(expr, datetime(2000, 1, 1))
    except CronSimError as exc:
        reason = str(exc)
        field_of = {k: i for i, k in enumerate(_CRON_FIELDS)}
        if reason in _CRON_FIELDS:
            reason = _CRON_FIELDS[reason].format(fields[field_of[reason]])
        return f"bad cron {expr!r}: {reason}"
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
# Every schedule is computed in local wall time and only then given its zone: a 10:00 meeting
# stays at 10:00 across DST switches. Cron times come from cronsim, which follows crontab
# (Vixie cron): when both day of month and day of week are restricted, a day matching either
# fires ("0 9 1 * 1": the 1st and every Monday); a field starting with * keeps the AND.
# Monthly and fortnightly times come from dateutil.rrule. A wall-clock time that does not
# exist (the spring-forward gap) moves forward by the gap (dateutil's resolve_imaginary); an
# ambiguous one (the autumn repeat) fires once, at its first occurrence: each wall-clock time
# of a schedule fires at most once. Fortnightly counts 14 days from its start date, so ISO
# week numbering (53-week years) cannot disturb it; the rrule start is always the schedule's
# own date, never "now".

_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def zone_of(schedule: Schedule, default_tz: str) -> ZoneInfo:
    """The schedule's zone, else the service default."""
    return schedule.zone(default_tz)


def localize(naive: datetime, zone: ZoneInfo) -> datetime:
    """A wall-clock time in `zone`: gaps move forward by the gap, repeats take the first."""
    aware: datetime = resolve_imaginary(naive.replace(tzinfo=zone, fold=0))
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


# How far before `after` the wall-clock walk starts: a time moved forward out of a gap (at most
# a day, as when Samoa skipped 30 December 2011) may still be ahead of `after`.
_GAP_MARGIN = timedelta(days=1)


def _cron_wall_times(expr: str, zone: ZoneInfo, start: datetime) -> Iterator[datetime]:
    """The cron's fire times after the naive wall time `start`, in order, each once.

    A time moved forward out of a gap can land after later times of the walk (at 02:10 with
    a 30-minute gap it becomes 02:40, after 02:35), so times wait in a heap until the walk
    has passed them: nothing moves backwards, so a time before the walk is final.
    """
    waiting: list[datetime] = []
    last: datetime | None = None
    for naive in CronSim(expr, start):  # ends if nothing matches within 50 years
        while waiting and waiting[0] < naive:
            wall = heapq.heappop(waiting)
            if wall != last:
                last = wall
                yield wall.replace(tzinfo=zone, fold=0)
        heapq.heappush(waiting, localize(naive, zone).replace(tzinfo=None))
    for wall in sorted(set(waiting)):
        if wall != last:
            yield wall.replace(tzinfo=zone, fold=0)


def _cron_times(schedule: Schedule, zone: ZoneInfo, after: datetime) -> Iterator[datetime]:
    assert schedule.cron is not None
    start = after.astimezone(zone).replace(tzinfo=None)
    if (after - _GAP_MARGIN).astimezone(zone).utcoffset() != after.astimezone(zone).utcoffset():
        start -= _GAP_MARGIN  # the clock moved in the last day (walking a day costs a little)
    after_utc = after.astimezone(UTC)
    for fire in _cron_wall_times(schedule.cron, zone, start):
        # Compared in UTC: between two times of one zone Python ignores `fold`, and `after`
        # may be the second occurrence of an ambiguous time.
        if fire.astimezone(UTC) > after_utc:
            yield fire


def iter_fire_times(schedule: Schedule, after: datetime, default_tz: str) -> Iterator[datetime]:
    """Fire times strictly after `after`, in the schedule's zone, in order."""
    zone = zone_of(schedule, default_tz)
    if schedule.cron is not None:
        yield from _cron_times(schedule, zone, after)
        return
    local_after = after.astimezone(zone).replace(tzinfo=None)
    after_utc = after.astimezone(UTC)
    # Start a little early: an occurrence moved forward out of a gap may still be ahead.
    for naive in _rrule(schedule, local_after - _GAP_MARGIN).xafter(
        local_after - _GAP_MARGIN, inc=True
    ):
        fire = localize(naive, zone)
        if fire.astimezone(UTC) > after_utc:
            yield fire


def fire_times(schedule: Schedule, after: datetime, count: int, default_tz: str) -> list[datetime]:
    """The next `count` fire times strictly after `after`."""
    return list(islice(iter_fire_times(schedule, after, default_tz), count))


def occurrences_between(
    schedule: Schedule, start: datetime, end: datetime, default_tz: str
) -> list[datetime]:
    """Fire times in (start, end]."""
    end_utc = end.astimezone(UTC)  # in UTC: within one zone Python ignores `fold`
    return list(
        takewhile(
            lambda t: t.astimezone(UTC) <= end_utc, iter_fire_times(schedule, start, default_tz)
        )
    )


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
