"""Fault injection and the request log: latency, errors, hangs, resets, per-token rate limits."""

from __future__ import annotations

import asyncio
import math
import random
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from http import HTTPStatus

from aiohttp import web
from aiohttp.typedefs import Middleware

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


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
    rate_limit_per_minute: int | None = None
    window_s: float = 60.0  # the rate limit's window; shorter ones make quick storms in tests

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
    _windows: dict[str, tuple[float, int]] = field(default_factory=dict)
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

    def take(self, token: str, limit: int, window: float = 60.0) -> tuple[bool, int, float]:
        """Count a request in its token's window: (allowed, remaining, reset epoch)."""
        now = time.time()
        with self._lock:
            start, used = self._windows.get(token, (now, 0))
            if now - start >= window:
                start, used = now, 0
            allowed = used < limit
            if allowed:
                used += 1
            self._windows[token] = (start, used)
            return allowed, max(0, limit - used), start + window


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
                token = request.headers.get("PRIVATE-TOKEN") or request.headers.get(
                    "Authorization", ""
                )
                assert token is not None
                allowed, remaining, reset = faults.take(
                    token, fault.rate_limit_per_minute, fault.window_s
                )
                headers = {
                    "RateLimit-Limit": str(fault.rate_limit_per_minute),
                    "RateLimit-Remaining": str(remaining),
                    "RateLimit-Reset": str(int(reset)),
                }
                if not allowed:
                    retry_after = max(1, math.ceil(reset - time.time()))
                    # GitLab's throttle answers in plain text, not JSON (Gitlab::Throttle
                    # .rate_limiting_response_text, 'Retry later' by default).
                    return web.Response(
                        text="Retry later\n",
                        content_type="text/plain",
                        status=429,
                        headers={**headers, "Retry-After": str(retry_after)},
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
