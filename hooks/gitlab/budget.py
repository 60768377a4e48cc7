"""The GitLab rate budget: what every request spends before it is sent, steered by GitLab's answers.

GitLab counts an account's API requests in fixed windows aligned to the Unix epoch (Rack::Attack,
`throttle_authenticated_api`: 2,000/min on GitLab.com) and, with throttling on, says where the
account stands on every answer: `RateLimit-Limit` (per minute, rounded), `RateLimit-Observed`,
`RateLimit-Remaining` and `RateLimit-Reset` (Unix time the window ends); a refusal is a 429 with
`Retry-After` (doc/administration/settings/user_and_ip_rate_limits.md). Two budgets obey it:

- `RateBudget`, a token bucket in this process (SQLite: one process holds the budget);
- `hooks.gitlab.shared_budget.SharedBudget`, one budget for every replica on PostgreSQL.

Both are steered the same way: an answer saying no more than this process has in flight remains
holds every request until `RateLimit-Reset` (someone else spends the account too, or the windows
disagree), a 429 holds them for `Retry-After`, and a lower `RateLimit-Limit` than configured
lowers the budget.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

API_THROTTLE = "throttle_authenticated_api"


@dataclass(frozen=True)
class Limits:
    """What one GitLab answer says about the account's rate limit (None: not said)."""

    status: int
    per_minute: int | None = None  # RateLimit-Limit
    remaining: int | None = None  # RateLimit-Remaining
    reset: float | None = None  # RateLimit-Reset, Unix time
    retry_after: float | None = None  # Retry-After, seconds
    name: str | None = None  # RateLimit-Name, the throttle the headers are about


def _number(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) and number >= 0 else None


def read_limits(status: int, headers: Mapping[str, str]) -> Limits:
    """The rate-limit headers of an answer; a malformed one counts as not sent."""
    per_minute = _number(headers.get("RateLimit-Limit"))
    remaining = _number(headers.get("RateLimit-Remaining"))
    return Limits(
        status=status,
        per_minute=int(per_minute) if per_minute else None,
        remaining=int(remaining) if remaining is not None else None,
        reset=_number(headers.get("RateLimit-Reset")),
        retry_after=_number(headers.get("Retry-After")),
        name=headers.get("RateLimit-Name"),
    )


def hold_for(limits: Limits, in_flight: int, now: float) -> float:
    """Seconds every request must wait after this answer (0: none).

    `in_flight` is how many other requests of this process may still reach GitLab: when no more
    than that remains, the next request could be refused, so all wait for the window's reset.
    """
    if limits.status == 429:
        if limits.retry_after is not None:
            return limits.retry_after
        return max(1.0, limits.reset - now) if limits.reset is not None else 1.0
    if limits.remaining is not None and limits.reset is not None and limits.remaining <= in_flight:
        # Reset is a whole second in GitLab's clock; a window never lasts beyond an hour.
        return min(max(0.0, limits.reset - now), 3600.0)
    return 0.0


class Budget(Protocol):
    """What the gateway needs of a budget, whichever holds it."""

    def acquire(self) -> float:
        """Take one request's share, waiting as long as needed; return the seconds waited."""

    def answered(self, limits: Limits | None) -> float:
        """A request taken with `acquire` ended (None: no answer); return the hold it began."""

    def pause(self, seconds: float) -> None:
        """Stop every request of the budget for `seconds`."""

    def close(self) -> None:
        """Release what the budget holds (threads, connections)."""


class Steering:
    """The part both budgets share: requests in flight, holds and the limit GitLab says."""

    def __init__(self, wall: Callable[[], float], clock: Callable[[], float]) -> None:
        self._wall = wall
        self._clock = clock
        self._lock = threading.Lock()
        self._in_flight = 0
        self._paused_until = 0.0  # on `clock`
        self.learnt_per_minute: int | None = None

    def answered(self, limits: Limits | None) -> float:
        with self._lock:
            self._in_flight = max(0, self._in_flight - 1)
            if limits is None:
                return 0.0
            # Only the account's API throttle sets the budget; a path's own stricter throttle
            # (protected paths, files) speaks for that path alone.
            if limits.per_minute and limits.name in (None, API_THROTTLE):
                self.learnt_per_minute = limits.per_minute
            hold = hold_for(limits, self._in_flight, self._wall())
            if hold <= 0:
                return 0.0
            until = self._clock() + hold
            if until <= self._paused_until:
                return 0.0  # held already
            self._paused_until = until
        self.held(hold)
        return hold

    def pause(self, seconds: float) -> None:
        with self._lock:
            self._paused_until = max(self._paused_until, self._clock() + seconds)
        self.held(seconds)

    def paused_for(self, now: float) -> float:
        """Seconds left of the current hold (call with the lock of the budget held)."""
        return max(0.0, self._paused_until - now)

    def held(self, seconds: float) -> None:
        """A new hold began (a shared budget tells the other replicas)."""


class RateBudget(Steering):
    """A token bucket shared by this process's threads: `per_minute` requests, in small bursts."""

    def __init__(
        self,
        per_minute: int,
        *,
        burst: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        wall: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(wall, clock)
        self.per_minute = per_minute
        # A small bucket keeps a burst from spending a fixed-window limit in one go.
        self.capacity = float(burst if burst is not None else max(1, min(10, per_minute // 60)))
        self._tokens = self.capacity
        self._sleep = sleep
        self._updated = clock()

    @property
    def rate(self) -> float:
        """Requests per second: the configured rate, or GitLab's limit when that is lower."""
        return min(self.per_minute, self.learnt_per_minute or self.per_minute) / 60.0

    def acquire(self) -> float:
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock()
                self._tokens = min(self.capacity, self._tokens + (now - self._updated) * self.rate)
                self._updated = now
                if self.paused_for(now) > 0:
                    delay = self.paused_for(now)
                elif self._tokens >= 1.0 - 1e-9:  # float dust must not spin the loop
                    self._tokens = max(0.0, self._tokens - 1.0)
                    self._in_flight += 1
                    return waited
                else:
                    delay = (1.0 - self._tokens) / self.rate
            self._sleep(delay)
            waited += delay

    def pause(self, seconds: float) -> None:
        """Stop every thread from sending for `seconds` (GitLab said Retry-After)."""
        super().pause(seconds)
        with self._lock:
            self._tokens = 0.0

    def close(self) -> None:
        pass
