"""Where GitLab is called from: python-gitlab clients in a bounded thread pool.

python-gitlab is synchronous and a `Gitlab` object shares one `requests.Session`, so each
pool thread gets its own client. Every request, whatever thread makes it, first takes its
share of the rate budget (hooks.gitlab.budget: this process's on SQLite, every replica's on
PostgreSQL), carries the triggering delivery's `X-Gitlab-Event-UUID` (GitLab's webhook recursion
detection keys on it), and is counted in the metrics. Each answer's `RateLimit-*` headers and
429s steer the budget.
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

from hooks.gitlab.budget import Budget, RateBudget, read_limits
from hooks.service.config import Settings
from hooks.service.metrics import Metrics

log = structlog.get_logger("hooks.gateway")

T = TypeVar("T")

# 4xx answers that retrying cannot fix; everything else (5xx, 429, timeouts) is transient.
PERMANENT_STATUSES = frozenset({400, 403, 404, 405, 409, 410, 413, 422})


class _CallContext(threading.local):
    event_uuid: str | None = None


class BudgetedSession(requests.Session):
    """A requests session that spends the shared budget and reports every call."""

    def __init__(self, budget: Budget, metrics: Metrics, context: _CallContext) -> None:
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
        except BaseException as exc:
            self._budget.answered(None)
            if isinstance(exc, requests.RequestException):
                self._metrics.api_calls.labels(verb, type(exc).__name__).observe(
                    time.perf_counter() - started
                )
            raise
        self._metrics.api_calls.labels(verb, str(response.status_code)).observe(
            time.perf_counter() - started
        )
        limits = read_limits(response.status_code, response.headers)
        hold = self._budget.answered(limits)
        if response.status_code == 429:
            log.warning("gitlab rate limited", retry_after=limits.retry_after)
        elif hold:
            log.info("gitlab says few requests remain; holding", seconds=round(hold, 1))
        return response


def budget_for(settings: Settings) -> Budget:
    """One budget for every replica on PostgreSQL; this process's own on SQLite."""
    if settings.database_url.startswith(("postgresql", "postgres:")):
        # Imported when used: a SQLite service need not load the PostgreSQL side.
        from hooks.gitlab.shared_budget import SharedBudget

        return SharedBudget.for_settings(settings)
    return RateBudget(settings.gitlab_rate_per_minute)


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
        budget: Budget | None = None,
        max_retries: int = 3,
    ) -> None:
        if settings.gitlab_token is None:
            raise ValueError("the gateway needs HOOKS_GITLAB_TOKEN; without it run dry")
        self.settings = settings
        self.metrics = metrics or Metrics()
        self.budget = budget or budget_for(settings)
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
        self.budget.close()
