"""The one fake clock: time that moves only when a test says so.

Production code takes its clock as a function (`now: Callable[[], datetime]`, a monotonic
`clock: Callable[[], float]`, a `sleep`); a FakeClock provides each: pass the clock itself
(or `clock.now`) as `now`, `clock.monotonic`/`clock.timestamp` as a float clock, and
`clock.sleep` where the code sleeps synchronously (sleeping moves the clock).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

DEFAULT_START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


class FakeClock:
    """An aware UTC instant that `advance` (or a `sleep`) moves forward."""

    def __init__(self, start: datetime = DEFAULT_START) -> None:
        if start.tzinfo is None:
            raise ValueError("FakeClock needs an aware start time")
        self._start = start.astimezone(UTC)
        # Seconds since the start, kept as a float so many small sleeps add up exactly.
        self._elapsed = 0.0

    def __call__(self) -> datetime:
        return self.now()

    def now(self) -> datetime:
        """The current time, aware, in UTC."""
        return self._start + timedelta(seconds=self._elapsed)

    def timestamp(self) -> float:
        """The current time as seconds since the epoch (for code that takes `time.time`)."""
        return self._start.timestamp() + self._elapsed

    def monotonic(self) -> float:
        """Seconds since the clock started (for code that takes `time.monotonic`)."""
        return self._elapsed

    def advance(self, delta: timedelta | float) -> None:
        """Move time forward by `delta` (a timedelta or seconds)."""
        step = delta.total_seconds() if isinstance(delta, timedelta) else float(delta)
        if step < 0:
            raise ValueError("time does not go backwards")
        self._elapsed += step

    def sleep(self, seconds: float) -> None:
        """A synchronous sleep that takes no real time: the clock moves instead."""
        self.advance(max(seconds, 0.0))
