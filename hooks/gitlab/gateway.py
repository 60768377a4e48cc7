"""Where GitLab is called from: python-gitlab clients in a bounded thread pool.

python-gitlab is synchronous and a `Gitlab` object shares one `requests.Session`, so each
pool thread gets its own client. Every request, whatever thread makes it, first takes a
token from one shared rate budget, carries the triggering delivery's
`X-Gitlab-Event-UUID` (GitLab's webhook recursion detection keys on it), and is counted in
the metrics. 429 answers pause the whole budget for their `Retry-After`.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import gitlab
import requests
import structlog

from hooks.service.config import Settings
from hooks.service.metrics import Metrics

log = structlog.get_logger("hooks.gateway")

T = TypeVar("T")

# 4xx answers that retrying cannot fix; everything else (5xx, 429, timeouts) is transient.
PERMANENT_STATUSES = frozenset({400, 403, 404, 405, 409, 410, 413, 422})


class RateBudget:
    """A token bucket shared by threads: `per_minute` requests, in small bursts."""

    def __init__(
        self,
        per_minute: int,
        *,
        burst: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.rate = per_minute / 60.0
        # A small bucket keeps a burst from spending a fixed-window limit in one go.
        self.capacity = float(burst if burst is not None else max(1, min(10, per_minute // 60)))
        self._tokens = self.capacity
        self._clock = clock
        self._sleep = sleep
        self._updated = clock()
        self._paused_until = 0.0
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Take one token, waiting as long as needed; return the seconds waited."""
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock()
                self._tokens = min(self.capacity, self._tokens + (now - self._updated) * self.rate)
                self._updated = now
                if now < self._paused_until:
                    delay = self._paused_until - now
                elif self._tokens >= 1.0 - 1e-9:  # float dust must not spin the loop
                    self._tokens = max(0.0, self._tokens - 1.0)
                    return waited
                else:
                    delay = (1.0 - self._tokens) / self.rate
            self._sleep(delay)
            waited += delay

    def pause(self, seconds: float) -> None:
        """Stop every thread from sending for `seconds` (GitLab said Retry-After)."""
        with self._lock:
            self._paused_until = max(self._paused_until, self._clock() + seconds)
            self._tokens = 0.0


class _CallContext(threading.local):
    event_uuid: str | None = None


class BudgetedSession(requests.Session):
    """A requests session that spends the shared budget and reports every call."""

    def __init__(self, budget: RateBudget, metrics: Metrics, context: _CallContext) -> None:
        super().__init__()
        self._budget = budget
        self._metrics = metrics
        self._context = context

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        waited = self._budget.acquire()
        if waited:
            self._metrics.rate_limit_waits.inc(waited)
        if self._context.event_uuid:
            headers = dict(kwargs.get("headers") or {})
            headers["X-Gitlab-Event-UUID"] = self._context.event_uuid
            kwargs["headers"] = headers
        verb = method.decode() if isinstance(method, bytes) else method
        started = time.perf_counter()
        try:
            response = super().request(method, url, *args, **kwargs)
        except requests.RequestException as exc:
            self._metrics.api_calls.labels(verb, type(exc).__name__).observe(
                time.perf_counter() - started
            )
            raise
        self._metrics.api_calls.labels(verb, str(response.status_code)).observe(
            time.perf_counter() - started
        )
        if response.status_code == 429:
            retry_after = _seconds(response.headers.get("Retry-After"))
            self._budget.pause(retry_after)
            self._metrics.rate_limit_waits.inc(retry_after)
            log.warning("gitlab rate limited", retry_after=retry_after)
        return response


def _seconds(value: str | None, default: float = 1.0) -> float:
    try:
        return max(0.0, float(value)) if value is not None else default
    except ValueError:
        return default


def is_permanent(exc: BaseException) -> bool:
    """True when GitLab refused for a reason that retrying cannot fix."""
    code = getattr(exc, "response_code", None)
    return isinstance(exc, gitlab.exceptions.GitlabError) and code in PERMANENT_STATUSES


def error_message(exc: BaseException) -> str:
    """GitLab's own message for a failed call, without request details or tokens."""
    if isinstance(exc, gitlab.exceptions.GitlabError):
        code = exc.response_code
        return f"{code} {exc.error_message}" if code else str(exc.error_message)
    return f"{type(exc).__name__}: {exc}"


class Gateway:
    """Runs python-gitlab calls in a bounded pool of threads, one client per thread."""

    def __init__(
        self,
        settings: Settings,
        metrics: Metrics | None = None,
        *,
        budget: RateBudget | None = None,
        max_retries: int = 3,
    ) -> None:
        if settings.gitlab_token is None:
            raise ValueError("the gateway needs HOOKS_GITLAB_TOKEN; without it run dry")
        self.settings = settings
        self.metrics = metrics or Metrics()
        self.budget = budget or RateBudget(settings.gitlab_rate_per_minute)
        self.max_retries = max_retries
        self._pool = ThreadPoolExecutor(settings.gitlab_threads, thread_name_prefix="gitlab")
        self._local = threading.local()
        self._context = _CallContext()
        self._clients: list[gitlab.Gitlab] = []
        self._clients_lock = threading.Lock()
        self._usage_lock = threading.Lock()
        self.busy = 0  # threads running a call
        self.waiting = 0  # calls queued for a thread
        self.metrics.gitlab_threads_busy.set_function(lambda: self.busy)
        self.metrics.gitlab_calls_waiting.set_function(lambda: self.waiting)

    def client(self) -> gitlab.Gitlab:
        """This thread's python-gitlab client (created on first use)."""
        gl: gitlab.Gitlab | None = getattr(self._local, "gl", None)
        if gl is None:
            assert self.settings.gitlab_token is not None
            gl = gitlab.Gitlab(
                self.settings.gitlab_url,
                private_token=self.settings.gitlab_token.get_secret_value(),
                timeout=self.settings.gitlab_timeout_s,
                retry_transient_errors=True,
                session=BudgetedSession(self.budget, self.metrics, self._context),
                per_page=100,
            )
            self._local.gl = gl
            with self._clients_lock:
                self._clients.append(gl)
        return gl

    async def call(self, fn: Callable[[gitlab.Gitlab], T], *, event_uuid: str | None = None) -> T:
        """Run `fn(client)` in the pool; its requests carry `event_uuid`."""
        started = False  # set under the usage lock by whichever side counts the start

        def run() -> T:
            nonlocal started
            with self._usage_lock:
                if not started:
                    started = True
                    self.waiting -= 1
                self.busy += 1
            self._context.event_uuid = event_uuid
            try:
                return fn(self.client())
            finally:
                self._context.event_uuid = None
                with self._usage_lock:
                    self.busy -= 1

        with self._usage_lock:
            self.waiting += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self._pool, run)
        finally:
            with self._usage_lock:
                if not started:  # cancelled before a thread took it
                    started = True
                    self.waiting -= 1

    def close(self) -> None:
        """Stop the pool and close every client's connections."""
        self._pool.shutdown(wait=False, cancel_futures=True)
        with self._clients_lock:
            for gl in self._clients:
                gl.session.close()
            self._clients.clear()
