"""POST /webhook: authenticate, bound, validate and store a delivery; 202 once it is on disk."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import structlog
from aiohttp import web

from hooks.events import event_kind
from hooks.intake.auth import token_matches
from hooks.rulesource.events import rules_event_kind
from hooks.service.context import SERVICE, STORE_TIMEOUT_S, Service
from hooks.storage.records import NewDelivery, dedup_key

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
    settings = service.settings
    kind = event_kind(header, payload) or rules_event_kind(
        settings.rules_project, settings.rules_ref, header, payload
    )
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
