"""One rate budget for every replica: a PostgreSQL row per GitLab account, counted per window.

GitLab counts an account's requests in windows aligned to the Unix epoch, so the budget does too:
the row holds the current window's start (the database's clock, which every replica shares) and
how many requests replicas took in it. A replica takes up to `batch` at once with one UPDATE that
grants at most what the window has left (`LEAST(n, cap - used)`): grants add up to the cap at
most, whatever the replicas ask at once. A grant is spent before the window's last `guard`
seconds or not at all (a request sent at the edge must not land in the next window, which is
granted in full); an empty window pauses the replica until the next one. A hold (a 429's
Retry-After, or GitLab saying few requests remain) is written to the row so that every replica
keeps it at its next reservation. While the database does not answer, the process spends a bucket
of its own, as every replica did before they shared one, and tries the row again with backoff.

The gateway's threads are synchronous; the row is reached through a small asyncio loop of the
budget's own (one connection), so they never wait on the service's event loop.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

import structlog
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import create_async_engine

from hooks.backoff import Backoff
from hooks.gitlab.budget import RateBudget, Steering
from hooks.rules.keys import digest
from hooks.service.config import Settings
from hooks.storage.database import Database
from hooks.storage.engine import async_url

log = structlog.get_logger("hooks.gateway")
# Asking the row again while the database does not answer: after 1 s, 2 s, 4 s, ... 30 s.
UNREACHABLE = Backoff(base_s=1.0, cap_s=30.0)
T = TypeVar("T")

# One instant per statement (clock_timestamp() would move between the expressions).
_NOW = "extract(epoch FROM statement_timestamp())::float8"
_WINDOW = "CAST(:window AS float8)"
_START = f"floor({_NOW} / {_WINDOW}) * {_WINDOW}"
# What the window has used before this grant (0 once a new window began).
_USED = f"(CASE WHEN b.window_start < {_START} THEN 0 ELSE b.used END)"
_GRANT = (
    f"(CASE WHEN b.held_until > {_NOW} OR {_START} + {_WINDOW} - {_NOW} < CAST(:guard AS float8)"
    f" THEN 0 ELSE GREATEST(0, LEAST(CAST(:n AS integer), CAST(:cap AS integer) - {_USED})) END)"
)
RESERVE = text(
    f"UPDATE rate_budget AS b SET granted = {_GRANT}, used = {_USED} + {_GRANT},"
    f" window_start = GREATEST(b.window_start, {_START})"
    f" WHERE b.name = :name"
    f" RETURNING b.granted, {_START} + {_WINDOW} - {_NOW} AS window_left,"
    f" GREATEST(0, b.held_until - {_NOW}) AS held_left"
)
CREATE = text(
    "INSERT INTO rate_budget (name, window_start, used, granted, held_until)"
    " VALUES (:name, 0, 0, 0, 0) ON CONFLICT (name) DO NOTHING"
)
HOLD = text(
    f"UPDATE rate_budget SET held_until = GREATEST(held_until, {_NOW} + CAST(:s AS float8))"
    " WHERE name = :name"
)


@dataclass(frozen=True)
class Grant:
    granted: int
    window_left: float  # seconds until the window ends
    held_left: float  # seconds left of a hold another replica wrote


class BudgetClosed(RuntimeError):
    """The service is stopping: no more requests."""


class SharedBudget(Steering):
    """`per_window` requests per `window_s` for every process using this row."""

    def __init__(
        self,
        database_url: str,
        name: str,
        per_window: int,
        window_s: float,
        *,
        batch: int = 10,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        wall: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(wall, clock)
        self.name = name
        self.per_window = per_window
        self.window_s = window_s
        self.batch = max(1, min(batch, per_window))
        # Time for a request to reach GitLab once granted: a tenth of short (test) windows.
        self.guard = min(1.0, window_s / 10)
        self.reservations = 0  # round trips to the row
        self._sleep = sleep
        self._tokens = 0
        self._expires = 0.0
        self._refilling = False
        self._closed = False
        self._created = False
        self._failures = 0  # reservations failed in a row
        # While the database does not answer, this process spends a bucket of its own (as
        # before replicas shared one), steered by GitLab's answers like the shared one.
        self._alone = RateBudget(max(1, int(per_window * 60 / window_s)), clock=clock, sleep=sleep)
        self._alone_until = 0.0  # on `clock`: when to try the row again
        self._ready = threading.Condition(self._lock)
        # Its own small engine (the gateway's threads must not wait on the service's loop),
        # written through the one write path all the same.
        self._db = Database(
            create_async_engine(
                async_url(database_url),
                pool_size=1,
                max_overflow=1,
                pool_pre_ping=True,
                connect_args={"timeout": 5, "command_timeout": 10},
            )
        )
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="rate-budget", daemon=True
        )
        self._thread.start()

    @classmethod
    def for_settings(cls, settings: Settings) -> SharedBudget:
        """The budget of the configured account (the row is named by a digest of URL and token)."""
        token = settings.gitlab_token.get_secret_value() if settings.gitlab_token else ""
        window = settings.gitlab_rate_window_s
        return cls(
            settings.database_url,
            digest(settings.gitlab_url, token),
            max(1, settings.gitlab_rate_per_minute * window // 60),
            float(window),
        )

    @property
    def cap(self) -> int:
        """Requests per window: the configured ones, or GitLab's limit when that is lower."""
        learnt = self.learnt_per_minute
        if learnt is None:
            return self.per_window
        return max(1, min(self.per_window, int(learnt * self.window_s / 60)))

    def acquire(self) -> float:
        waited = 0.0
        while True:
            alone = False
            with self._lock:
                if self._closed:
                    raise BudgetClosed("the GitLab rate budget is closed")
                now = self._clock()
                delay = self.paused_for(now)
                if delay <= 0:
                    if self._tokens > 0 and now < self._expires:
                        self._tokens -= 1
                        self._in_flight += 1
                        return waited
                    alone = now < self._alone_until
                    if alone:
                        self._in_flight += 1
                    elif self._refilling:  # another thread is at the row for all of them
                        self._ready.wait(1.0)
                        waited += self._clock() - now
                        continue
                    else:
                        self._refilling = True
            if alone:
                self._alone.learnt_per_minute = self.learnt_per_minute
                return waited + self._alone.acquire()
            if delay > 0:
                self._sleep(delay)
                waited += delay
                continue
            self._refill()

    def _refill(self) -> None:
        grant: Grant | None = None
        try:
            grant = self._run(self._reserve(self.batch, self.cap))
        except BudgetClosed:
            raise
        except Exception as exc:
            log.warning(
                "shared rate budget unreachable; this process spends its own meanwhile",
                error=f"{type(exc).__name__}: {exc}",
            )
        finally:
            with self._lock:
                self._refilling = False
                now = self._clock()
                self._failures = self._failures + 1 if grant is None else 0
                if grant is None:
                    self._alone_until = now + UNREACHABLE.delay(self._failures)
                elif grant.held_left > 0:
                    self._paused_until = max(self._paused_until, now + grant.held_left)
                elif grant.granted > 0:
                    self._tokens = grant.granted
                    self._expires = now + grant.window_left - self.guard
                else:  # the window is spent: everyone waits for the next one
                    self._paused_until = max(self._paused_until, now + grant.window_left)
                self._ready.notify_all()

    async def _reserve(self, n: int, cap: int) -> Grant:
        params = {"name": self.name, "n": n, "cap": cap, "window": self.window_s}
        create = not self._created

        def reserve(conn: Connection) -> Any:
            if create:
                conn.execute(CREATE, {"name": self.name})
            return conn.execute(RESERVE, {**params, "guard": self.guard}).one()

        row = await self._db.transact(reserve)
        self._created = True
        self.reservations += 1
        return Grant(int(row[0]), float(row[1]), float(row[2]))

    async def _hold(self, seconds: float) -> None:
        try:
            await self._db.transact(
                lambda conn: conn.execute(HOLD, {"name": self.name, "s": seconds})
            )
        except Exception as exc:  # the local hold stands; others meet GitLab's answer themselves
            log.warning("could not share a rate-limit hold", error=f"{type(exc).__name__}: {exc}")

    def held(self, seconds: float) -> None:
        with self._lock:
            if self._closed:
                return
            # Not waited for: the answer's thread goes on; the row has it within a round trip.
            asyncio.run_coroutine_threadsafe(self._hold(seconds), self._loop)

    def _run(self, work: Coroutine[Any, Any, T], timeout: float = 15.0) -> T:
        """Run `work` on the budget's loop and wait for it, but not past `close()`."""
        future = asyncio.run_coroutine_threadsafe(work, self._loop)
        deadline = time.monotonic() + timeout
        while True:
            try:
                return future.result(timeout=0.2)
            except TimeoutError:
                if self._closed:
                    future.cancel()
                    raise BudgetClosed("the GitLab rate budget is closed") from None
                if time.monotonic() > deadline:
                    future.cancel()
                    raise

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._ready.notify_all()
        try:
            asyncio.run_coroutine_threadsafe(self._db.engine.dispose(), self._loop).result(
                timeout=5
            )
        except Exception as exc:
            log.warning("rate budget did not close cleanly", error=f"{type(exc).__name__}: {exc}")
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
