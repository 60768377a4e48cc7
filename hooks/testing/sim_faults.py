"""Fault injection and the request log: latency, errors, hangs, resets, per-token rate limits."""

from __future__ import annotations

import asyncio
import math
import random
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from email.utils import formatdate
from fnmatch import fnmatchcase
from http import HTTPStatus

from aiohttp import web
from aiohttp.typedefs import Middleware

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
TOO_MANY = "This endpoint has been requested too many times. Try again later."


@dataclass
class Fault:
    """What goes wrong for requests whose method and path match (globs)."""

    method: str = "*"
    path: str = "*"
    user: str | None = None  # only this user's requests (None: everyone's)
    latency_s: float = 0.0
    jitter_s: float = 0.0
    after_s: float = 0.0  # delay the answer after the change is made (crash windows)
    error_rate: float = 0.0
    statuses: tuple[int, ...] = (500, 502, 503)
    hang_rate: float = 0.0
    hang_s: float = 60.0
    reset_rate: float = 0.0
    rate_limit_per_minute: int | None = None  # requests per window (a minute by default)
    window_s: float = 60.0  # the rate limit's window; shorter ones make quick storms in tests
    # One of GitLab's application limits (issue creation, notes...) rather than the API
    # throttle: its 429 is JSON and says nothing ahead (no RateLimit-* headers, no Retry-After).
    application_limit: bool = False

    def matches(self, method: str, path: str, user: str | None) -> bool:
        return (
            fnmatchcase(method, self.method)
            and fnmatchcase(path, self.path)
            and (self.user is None or self.user == user)
        )


@dataclass(frozen=True)
class RequestRecord:
    method: str
    path: str
    query: dict[str, str]
    status: int
    user: str | None
    event_uuid: str | None
    started: float
    duration: float


@dataclass
class Faults:
    """The active fault rules, a deterministic random source and rate-limit windows."""

    rules: list[Fault] = field(default_factory=list)
    seed: int = 7
    _rng: random.Random = field(default_factory=lambda: random.Random(7))
    _windows: dict[str, tuple[float, int]] = field(default_factory=dict)  # start, count
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            self.rules.append(fault)
        return fault

    def remove(self, fault: Fault) -> None:
        with self._lock:
            self.rules.remove(fault)

    def clear(self) -> None:
        with self._lock:
            self.rules.clear()
            self._windows.clear()
            self._rng = random.Random(self.seed)

    def matching(self, method: str, path: str, user: str | None) -> list[Fault]:
        with self._lock:
            return [f for f in self.rules if f.matches(method, path, user)]

    def roll(self) -> float:
        with self._lock:
            return self._rng.random()

    def take(self, token: str, limit: int, window: float = 60.0) -> Throttle:
        """Count a request in its token's window, as Rack::Attack does: windows aligned to Unix
        time, every request counted (refused ones too), refused once the count passes `limit`."""
        now = time.time()
        start = math.floor(now / window) * window
        with self._lock:
            began, count = self._windows.get(token, (start, 0))
            count = count + 1 if began == start else 1
            self._windows[token] = (start, count)
        return Throttle(limit, window, count, start + window, now)


@dataclass(frozen=True)
class Throttle:
    """Where one token stands in its window, and the headers GitLab sends for it
    (Gitlab::RackAttack.throttled_response_headers; doc/administration/settings/
    user_and_ip_rate_limits.md, "Response headers")."""

    limit: int
    window: float
    observed: int
    reset: float
    now: float

    @property
    def allowed(self) -> bool:
        return self.observed <= self.limit

    def headers(self) -> dict[str, str]:
        """On every answer: the limit per minute (rounded up from the window's), observed,
        remaining and the reset as Unix time."""
        return {
            "RateLimit-Name": "throttle_authenticated_api",
            "RateLimit-Limit": str(math.ceil(self.limit * 60 / self.window)),
            "RateLimit-Observed": str(self.observed),
            "RateLimit-Remaining": str(max(0, self.limit - self.observed)),
            "RateLimit-Reset": str(math.ceil(self.reset)),
        }

    def refusal_headers(self) -> dict[str, str]:
        """A 429 adds the reset as an HTTP date and Retry-After in whole seconds."""
        reset = math.ceil(self.reset)
        return {
            **self.headers(),
            "RateLimit-ResetTime": formatdate(reset, usegmt=True),
            "Retry-After": str(max(1, math.ceil(self.reset - self.now))),
        }


def middleware(
    faults: Faults,
    log: list[RequestRecord],
    log_lock: threading.Lock,
    who: Callable[[web.Request], str | None],
) -> Middleware:
    """An aiohttp middleware applying the faults and logging every request."""

    @web.middleware
    async def apply(request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.perf_counter()
        status = 0
        try:
            response = await _faulty(request, handler)
            status = response.status
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        finally:
            record = RequestRecord(
                method=request.method,
                path=request.raw_path.split("?", 1)[0],
                query=dict(request.query),
                status=status,
                user=who(request),
                event_uuid=request.headers.get("X-Gitlab-Event-UUID"),
                started=started,
                duration=time.perf_counter() - started,
            )
            with log_lock:
                log.append(record)

    async def _faulty(request: web.Request, handler: Handler) -> web.StreamResponse:
        path = request.raw_path.split("?", 1)[0]
        active = faults.matching(request.method, path, who(request))
        after = 0.0
        headers: dict[str, str] = {}
        for fault in active:
            if fault.rate_limit_per_minute is not None:
                # GitLab throttles authenticated requests per user, whichever token they carry.
                token = request.headers.get("PRIVATE-TOKEN") or request.headers.get(
                    "Authorization", ""
                )
                key = who(request) or token or ""
                throttle = faults.take(key, fault.rate_limit_per_minute, fault.window_s)
                if fault.application_limit:
                    if not throttle.allowed:  # API::Helpers::RateLimiter
                        return web.json_response({"message": {"error": TOO_MANY}}, status=429)
                else:
                    headers = throttle.headers()
                if not throttle.allowed:
                    # GitLab's throttle answers in plain text, not JSON (Gitlab::Throttle
                    # .rate_limiting_response_text, 'Retry later' by default).
                    return web.Response(
                        text="Retry later\n",
                        content_type="text/plain",
                        status=429,
                        headers=throttle.refusal_headers(),
                    )
            delay = fault.latency_s + (faults.roll() * fault.jitter_s if fault.jitter_s else 0)
            if delay:
                await asyncio.sleep(delay)
            if fault.hang_rate and faults.roll() < fault.hang_rate:
                await asyncio.sleep(fault.hang_s)
            if fault.reset_rate and faults.roll() < fault.reset_rate:
                if request.transport is not None:
                    request.transport.abort()
                raise ConnectionResetError("simulated connection reset")
            if fault.error_rate and faults.roll() < fault.error_rate:
                status = fault.statuses[int(faults.roll() * len(fault.statuses))]
                return web.json_response({"message": _status_line(status)}, status=status)
            after = max(after, fault.after_s)
        response = await handler(request)
        for name, value in headers.items():
            response.headers[name] = value
        if after:
            await asyncio.sleep(after)
        return response

    return apply


def _status_line(status: int) -> str:
    """'500 Internal Server Error', as GitLab words an error status."""
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return str(status)
