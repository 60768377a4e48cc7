"""The service's aiohttp application: its parts, its routes, its start and stop."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta

import structlog
from aiohttp import web
from sqlalchemy.exc import DBAPIError

from hooks.dashboard.routes import setup_dashboard
from hooks.intake.auth import SignatureVerifier, signing_key
from hooks.intake.webhook import webhook
from hooks.preview.routes import setup_preview
from hooks.processing.dispatch import Dispatcher
from hooks.processing.worker import RetryPolicy, Worker, utcnow
from hooks.service.admin import install_sighup, setup_admin
from hooks.service.config import Settings
from hooks.service.context import SERVICE, Service
from hooks.service.health import default_checks, healthz, metrics_view, readyz
from hooks.service.metrics import Metrics
from hooks.service.runtime import Runtime
from hooks.storage.engine import database_unusable
from hooks.storage.store import Store, open_store

log = structlog.get_logger("hooks.web")


class StartupError(Exception):
    """The service cannot start as configured (e.g. the rules do not load)."""


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
        if settings.rules_project and settings.gitlab_token is None:
            raise StartupError(
                "HOOKS_RULES_PROJECT is set: HOOKS_GITLAB_TOKEN is needed to read its rules"
            )
        runtime = Runtime(settings, store, metrics, now=now)
        # Rules from a GitLab project are read when the service starts (Runtime.start).
        errors = [] if runtime.rules_source else runtime.rules.load(now())
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
        handlers=runtime.rules_deliveries.handlers()
        if runtime and runtime.rules_deliveries
        else None,
    )
    service = Service(settings, store, worker, metrics, verifier, now, {}, runtime)
    if runtime is not None:
        service.rules_listeners.append(runtime.sync_schedules)
    service.ready_checks.update(default_checks(service))

    # The body limit is enforced by the webhook handler itself, with a clear 413.
    app = web.Application(client_max_size=settings.max_body_bytes + 1)
    app[SERVICE] = service
    app.router.add_post("/webhook", webhook)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics_view)
    setup_admin(app)
    setup_preview(app)
    setup_dashboard(app, settings, clock=lambda: now().timestamp())
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


__all__ = ["StartupError", "create_app"]
