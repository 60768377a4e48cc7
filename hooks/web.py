"""The HTTP surface: webhook intake, health and readiness, metrics."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import structlog
from aiohttp import web
from sqlalchemy.exc import DBAPIError

from hooks.admin import install_sighup, setup_admin
from hooks.auth import SignatureVerifier, signing_key, token_matches
from hooks.config import Settings
from hooks.dashboard import setup_dashboard
from hooks.dispatch import Dispatcher
from hooks.events import event_kind
from hooks.metrics import Metrics
from hooks.runtime import Runtime
from hooks.storage.engine import database_unusable
from hooks.storage.records import NewDelivery, dedup_key
from hooks.storage.store import Store, open_store
from hooks.watchdog import hook_statuses
from hooks.worker import RetryPolicy, Worker, utcnow

log = structlog.get_logger("hooks.web")

# Headers worth keeping with a delivery; the token and signature are not among them.
KEPT_HEADERS = (
    "X-Gitlab-Event",
    "X-Gitlab-Event-UUID",
    "X-Gitlab-Webhook-UUID",
    "X-Gitlab-Instance",
    "Idempotency-Key",
    "User-Agent",
    "webhook-id",
    "webhook-timestamp",
)
STORE_TIMEOUT_S = 5.0


@dataclass
class Check:
    """The result of one readiness check."""

    ok: bool
    detail: str = "ok"


ReadyCheck = Callable[[], Awaitable[Check]]


@dataclass
class Service:
    """The parts of one running instance, shared by handlers and lifecycle hooks."""

    settings: Settings
    store: Store
    worker: Worker
    metrics: Metrics
    verifier: SignatureVerifier | None
    now: Callable[[], datetime]
    ready_checks: dict[str, ReadyCheck]
    runtime: Runtime | None = None
    # Called after a successful rules reload (the scheduler rebuilds its jobs).
    rules_listeners: list[Callable[[], None]] = field(default_factory=list)

    def on_rules_reloaded(self) -> None:
        for listener in self.rules_listeners:
            listener()


class StartupError(Exception):
    """The service cannot start as configured (e.g. the rules do not load)."""


SERVICE = web.AppKey("service", Service)


def _refuse(status: int, message: str, **log_fields: Any) -> web.Response:
    log.info("delivery refused", status=status, reason=message, **log_fields)
    return web.json_response({"error": message}, status=status)


async def _read_bounded(request: web.Request, limit: int) -> bytes | None:
    """The body, or None if it is larger than `limit` bytes."""
    if request.content_length is not None and request.content_length > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _authentic(service: Service, request: web.Request, body: bytes) -> bool:
    if service.verifier is not None and "webhook-signature" in request.headers:
        return service.verifier.verify(request.headers, body)
    return token_matches(request.headers.get("X-Gitlab-Token"), service.settings.webhook_secrets)


def _project_path(payload: dict[str, Any]) -> str | None:
    project = payload.get("project")
    if isinstance(project, dict):
        path = project.get("path_with_namespace")
        if isinstance(path, str):
            return _storable(path[:400])
    return None


def _storable(text: str | None) -> str | None:
    """Text PostgreSQL can hold, unchanged unless it has a NUL or a lone surrogate (a raw
    byte in a header, an escape in a payload): those are written as their escapes, so
    different keys stay different and the delivery is stored instead of answered 503."""
    if text is None:
        return None
    return text.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")


async def webhook(request: web.Request) -> web.Response:
    """Authenticate, bound, validate and store a delivery; answer 202 once it is on disk."""
    service = request.app[SERVICE]
    started = time.perf_counter()
    try:
        return await _intake(service, request)
    finally:
        service.metrics.ack_seconds.observe(time.perf_counter() - started)


async def _intake(service: Service, request: web.Request) -> web.Response:
    metrics = service.metrics
    body = await _read_bounded(request, service.settings.max_body_bytes)
    if body is None:
        metrics.deliveries.labels("?", "too_large").inc()
        limit = service.settings.max_body_bytes
        return _refuse(413, f"body exceeds the {limit} byte limit")
    if not _authentic(service, request, body):
        metrics.deliveries.labels("?", "unauthorized").inc()
        return _refuse(401, "missing or invalid X-Gitlab-Token or webhook signature")
    header = request.headers.get("X-Gitlab-Event", "").strip()
    if not header:
        metrics.deliveries.labels("?", "bad_request").inc()
        return _refuse(400, "missing X-Gitlab-Event header")
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):
        metrics.deliveries.labels(header[:40], "bad_request").inc()
        return _refuse(400, "body is not valid JSON", gitlab_event=header[:100])
    if not isinstance(payload, dict):
        metrics.deliveries.labels(header[:40], "bad_request").inc()
        return _refuse(400, f"body is a JSON {type(payload).__name__}, expected an object")
    kind = event_kind(header, payload)
    if kind is None:
        # Not an error: a 4xx would count towards GitLab disabling the hook.
        metrics.deliveries.labels(header[:40], "ignored").inc()
        return web.json_response({"ignored": header[:100]}, status=202)

    headers = {name: request.headers[name] for name in KEPT_HEADERS if name in request.headers}
    new = NewDelivery(
        dedup_key=dedup_key(_storable(request.headers.get("Idempotency-Key")), kind, body),
        event_header=header,
        kind=kind,
        project=_project_path(payload),
        event_uuid=_storable(request.headers.get("X-Gitlab-Event-UUID")),
        headers=headers,
        body=body,
        received_at=service.now(),
    )
    try:
        delivery_id, duplicate = await asyncio.wait_for(
            service.store.add_delivery(new), STORE_TIMEOUT_S
        )
    except Exception as exc:
        metrics.deliveries.labels(kind, "unavailable").inc()
        log.error("storing delivery failed", error=str(exc), kind=kind, project=new.project)
        return web.json_response(
            {"error": "storage unavailable, delivery not accepted"},
            status=503,
            headers={"Retry-After": "30"},
        )
    metrics.deliveries.labels(kind, "duplicate" if duplicate else "accepted").inc()
    log.info(
        "delivery stored",
        delivery=delivery_id,
        kind=kind,
        project=new.project,
        duplicate=duplicate,
    )
    if not duplicate:
        service.worker.notify()
    return web.json_response({"delivery": delivery_id, "duplicate": duplicate}, status=202)


async def healthz(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """200 when every check passes, else 503; the body names each check."""
    service = request.app[SERVICE]
    results: dict[str, dict[str, Any]] = {}
    for name, check in service.ready_checks.items():
        try:
            result = await asyncio.wait_for(check(), STORE_TIMEOUT_S)
        except Exception as exc:
            result = Check(False, f"{type(exc).__name__}: {exc}")
        results[name] = {"ok": result.ok, "detail": result.detail}
    ready = all(r["ok"] for r in results.values())
    return web.json_response({"ready": ready, "checks": results}, status=200 if ready else 503)


async def metrics_view(request: web.Request) -> web.Response:
    service = request.app[SERVICE]
    try:
        stats = await asyncio.wait_for(service.store.stats(service.now()), STORE_TIMEOUT_S)
    except Exception:
        pass  # the scrape still answers with the counters it has
    else:
        for status in ("pending", "processing", "failed"):
            service.metrics.queue_depth.labels(status).set(getattr(stats, status))
        service.metrics.oldest_pending.set(stats.oldest_pending_age_s)
    return web.Response(
        body=service.metrics.render(),
        headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"},
    )


async def webhooks_check(store: Store, now: datetime) -> Check:
    """Watched hooks GitLab disabled or that went silent: said, but still ready.

    A disabled hook is GitLab's side: taking this replica out of rotation cannot fix it, and
    would make the watchdog's test delivery, which re-enables the hook, fail as well.
    """
    hooks = await hook_statuses(store, now)
    if not hooks:
        return Check(True, "no watched webhooks")
    problems = [
        f"{h['scope']}:{h['hook_id']} {h['alert_status']}"
        + (f" until {h['disabled_until']}" if h["disabled_until"] else "")
        for h in hooks
        if h["disabled"]
    ] + [
        f"{h['scope']}:{h['hook_id']} silent since {h['silent_since']}"
        for h in hooks
        if h["silent_since"]
    ]
    if not problems:
        return Check(True, f"{len(hooks)} watched, all delivering")
    return Check(True, f"{len(hooks)} watched; GitLab drops events: " + "; ".join(problems))


def _default_checks(service: Service) -> dict[str, ReadyCheck]:
    async def database() -> Check:
        stats = await service.store.stats(service.now())
        limit = service.settings.ready_max_pending_age_s
        age = stats.oldest_pending_age_s
        if age > limit:
            return Check(False, f"oldest pending delivery is {age:.0f}s old (limit {limit:.0f}s)")
        return Check(True, f"{stats.pending} pending, {stats.processing} processing")

    async def worker() -> Check:
        return Check(service.worker.running, "running" if service.worker.running else "stopped")

    checks: dict[str, ReadyCheck] = {"database": database, "worker": worker}
    runtime = service.runtime
    if runtime is not None:

        async def rules() -> Check:
            loaded = runtime.rules.rules
            if loaded is None:
                return Check(False, "no rules loaded: " + "; ".join(runtime.rules.errors))
            detail = f"{len(loaded.rules)} rules"
            if runtime.rules.errors:
                detail += f"; last reload refused ({len(runtime.rules.errors)} errors)"
            return Check(True, detail)

        async def gitlab() -> Check:
            if runtime.gateway is None:
                return Check(True, "dry-run: no GitLab token")
            if runtime.bot is None:
                return Check(False, "bot user not resolved yet (GET /user failing)")
            return Check(True, f"acting as @{runtime.bot.username}")

        async def scheduler() -> Check:
            running = runtime.scheduler is not None and runtime.scheduler.running
            jobs = len(runtime.scheduler.rules) if runtime.scheduler else 0
            return Check(running, f"{jobs} scheduled rules" if running else "not running")

        checks.update(rules=rules, gitlab=gitlab, scheduler=scheduler)
        if runtime.watch_jobs is not None:
            checks["webhooks"] = lambda: webhooks_check(service.store, service.now())
    return checks


def create_app(
    settings: Settings,
    *,
    dispatcher: Dispatcher | None = None,
    store: Store | None = None,
    metrics: Metrics | None = None,
    now: Callable[[], datetime] = utcnow,
) -> web.Application:
    """The aiohttp application; the store opens and the worker starts on startup."""
    metrics = metrics or Metrics()
    store = store or open_store(settings.database_url)
    runtime = None
    if dispatcher is None:
        runtime = Runtime(settings, store, metrics, now=now)
        errors = runtime.rules.load(now())
        if errors:
            raise StartupError("rules do not load:\n" + "\n".join(errors))
        dispatcher = runtime.dispatcher
        runtime.build_scheduler(store, metrics, now)
    verifier = (
        SignatureVerifier(
            signing_key(settings.webhook_signing_token.get_secret_value()),
            settings.signature_tolerance_s,
        )
        if settings.webhook_signing_token
        else None
    )
    worker = Worker(
        store,
        dispatcher,
        metrics=metrics,
        concurrency=settings.worker_concurrency,
        lease=timedelta(seconds=settings.lease_seconds),
        retry=RetryPolicy(settings.max_attempts, settings.retry_base_s, settings.retry_cap_s),
        poll_interval_s=settings.poll_interval_s,
        now=now,
    )
    service = Service(settings, store, worker, metrics, verifier, now, {}, runtime)
    if runtime is not None:
        service.rules_listeners.append(runtime.sync_schedules)
    service.ready_checks.update(_default_checks(service))

    # The body limit is enforced by the webhook handler itself, with a clear 413.
    app = web.Application(client_max_size=settings.max_body_bytes + 1)
    app[SERVICE] = service
    app.router.add_post("/webhook", webhook)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics_view)
    setup_admin(app)
    setup_dashboard(app, settings)
    app.cleanup_ctx.append(_lifecycle)
    return app


async def _lifecycle(app: web.Application) -> AsyncIterator[None]:
    service = app[SERVICE]
    try:
        await service.store.migrate()
    except (DBAPIError, OSError) as exc:
        await service.store.close()
        raise database_unusable(exc) from exc
    if service.runtime is not None:
        await service.runtime.start()
        install_sighup(service)
    await service.worker.start()
    log.info("service started", dry_run=service.settings.effective_dry_run)
    if not service.settings.webhook_secrets and service.verifier is None:
        log.warning("no HOOKS_WEBHOOK_SECRET: every delivery is refused with 401")
    yield
    await service.worker.stop(service.settings.shutdown_grace_s)
    if service.runtime is not None:
        await service.runtime.close()
    await service.store.close()
    log.info("service stopped")


__all__ = ["SERVICE", "Check", "Service", "StartupError", "create_app"]
