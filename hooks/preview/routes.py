"""`POST /admin/preview`: the candidate files in, the preview report out (admin token).

Body: `{"files": {"20-rollover.yaml": "<text>", ...}, "since": "14d"}`. The answer is the
report as JSON, or Markdown with `Accept: text/markdown` (plain text with `text/plain`).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import structlog
from aiohttp import web

from hooks.preview.reading import gateway_reader
from hooks.preview.report import PreviewReport
from hooks.preview.run import preview
from hooks.preview.validate import Validation, validate_files
from hooks.schedules.triggers import parse_duration
from hooks.service.context import SERVICE, Service

log = structlog.get_logger("hooks.preview")
KEYS = ("files", "since")


class BadBody(Exception):
    def __init__(self, status: int, message: str, **detail: Any) -> None:
        super().__init__(message)
        self.status = status
        self.detail = detail


def _refuse(status: int, message: str, **detail: Any) -> web.Response:
    return web.json_response({"error": message, **detail}, status=status)


async def _body(request: web.Request) -> tuple[dict[str, str], timedelta | None]:
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        limit = request.app[SERVICE].settings.max_body_bytes
        raise BadBody(413, f"body over {limit} bytes (HOOKS_MAX_BODY_BYTES)") from None
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise BadBody(400, f"body is not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise BadBody(400, f"body is a JSON {type(body).__name__}, not an object")
    unknown = sorted(k for k in body if k not in KEYS)
    if unknown:
        raise BadBody(400, f"unknown key {unknown[0]!r}; allowed: {', '.join(KEYS)}")
    files = body.get("files")
    if not isinstance(files, dict) or not files:
        raise BadBody(400, "'files' must be an object of file name to rule file text, not empty")
    not_text = sorted(name for name, text in files.items() if not isinstance(text, str))
    if not_text:
        raise BadBody(400, f"files.{not_text[0]}: the file's text must be a string")
    since_given = body.get("since")
    if since_given is None:  # HOOKS_PREVIEW_DAYS
        return files, None
    since = parse_duration(since_given) if isinstance(since_given, str | int) else None
    if not isinstance(since, timedelta) or since <= timedelta(0):
        raise BadBody(400, f'\'since\' {since_given!r} is not a duration, e.g. "14d" or "36h"')
    return files, since


async def preview_files(
    service: Service, files: Mapping[str, str | bytes], *, since: timedelta | None = None
) -> tuple[Validation, PreviewReport]:
    """Validate candidate files (names, sizes, `hooks check`, examples) and, when they pass,
    preview them against the live rules on the last `since` (HOOKS_PREVIEW_DAYS) of history.

    A candidate that does not validate gets the report of its errors (`report.valid` false,
    nothing planned); the validation says whether a file was refused (`refusals`).
    """
    since = since or timedelta(days=service.settings.preview_days)
    now = service.now()
    runtime = service.runtime
    live = runtime.rules.rules if runtime is not None else None
    # The live rules' other files (fixtures): the live commit's with rules from GitLab.
    source = runtime.rules_source if runtime is not None else None
    support = source.support_dir if source is not None else None
    validation = await asyncio.to_thread(
        validate_files, files, support=support or service.settings.rules_dir
    )
    if validation.rules is None or not validation.ok:
        return validation, PreviewReport.invalid(validation.errors, since=now - since, now=now)
    if runtime is None or live is None:
        raise RuntimeError("no live rules are loaded to compare with")
    reader, online = gateway_reader(runtime.gateway, asyncio.get_running_loop())
    report = await preview(
        service.store,
        reader,
        live,
        validation.rules,
        since=since,
        now=now,
        gitlab_url=service.settings.gitlab_url,
        default_tz=service.settings.timezone,
        online=online,
    )
    report.examples_passed = validation.examples_passed
    log.info(
        "rules previewed",
        deliveries=report.deliveries,
        fires=report.scheduled_fires,
        differences=report.has_differences,
    )
    return validation, report


def _answer(request: web.Request, report: PreviewReport, status: int = 200) -> web.Response:
    accept = request.headers.get("Accept", "")
    if "text/markdown" in accept:
        return web.Response(text=report.to_markdown(), content_type="text/markdown", status=status)
    if "text/plain" in accept:
        return web.Response(text=report.to_text(), content_type="text/plain", status=status)
    return web.Response(text=report.to_json(), content_type="application/json", status=status)


async def preview_route(request: web.Request) -> web.Response:
    """Validate the candidate files and preview them: 200 with the report, or why not."""
    service = request.app[SERVICE]
    try:
        files, since = await _body(request)
    except BadBody as exc:
        return _refuse(exc.status, str(exc), **exc.detail)
    runtime = service.runtime
    if runtime is None or runtime.rules.rules is None:
        return _refuse(503, "no live rules are loaded to compare with")
    validation, report = await preview_files(service, files, since=since)
    if validation.refusals:
        status = 413 if any(r.too_large for r in validation.refusals) else 422
        return _refuse(
            status, "candidate files refused", errors=[str(r) for r in validation.refusals]
        )
    return _answer(request, report, 200 if report.valid else 422)


def setup_preview(app: web.Application) -> None:
    """Add `POST /admin/preview` (the admin middleware checks its token)."""
    app.router.add_post("/admin/preview", preview_route)
