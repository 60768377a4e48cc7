"""The admin API: replay a delivery, reload the rules. Bearer token, constant-time check."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Awaitable, Callable

import structlog
from aiohttp import web

from hooks.actions.executor import TransientFailure
from hooks.intake.auth import token_matches
from hooks.service.context import SERVICE, Service

log = structlog.get_logger("hooks.admin")


def _service(request: web.Request) -> Service:
    return request.app[SERVICE]


def authorized(service: Service, header: str | None) -> bool:
    """True when `Authorization: Bearer <token>` carries the admin token."""
    token = service.settings.admin_token
    if token is None or not header or not header.startswith("Bearer "):
        return False
    return token_matches(header[len("Bearer ") :].strip(), [token.get_secret_value().encode()])


@web.middleware
async def require_admin(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Every /admin route answers 403 without the admin bearer token."""
    if request.path.startswith("/admin/") and not authorized(
        _service(request), request.headers.get("Authorization")
    ):
        return web.json_response(
            {"error": "admin token required (Authorization: Bearer ...)"}, status=403
        )
    return await handler(request)


async def queue_replay(service: Service, delivery_id: int) -> tuple[int, str | None]:
    """Queue a stored delivery again: (202, None), or (404 | 409, why not)."""
    if await service.store.get_delivery(delivery_id) is None:
        return 404, f"no delivery {delivery_id}"
    if not await service.store.replay(delivery_id, service.now()):
        return 409, f"delivery {delivery_id} is being processed right now"
    service.worker.notify()
    log.info("delivery replayed", delivery=delivery_id)
    return 202, None


async def replay(request: web.Request) -> web.Response:
    """Queue a stored delivery again."""
    try:
        delivery_id = int(request.match_info["id"])
    except ValueError:
        return web.json_response({"error": "delivery id must be a number"}, status=400)
    status, error = await queue_replay(_service(request), delivery_id)
    if error is not None:
        return web.json_response({"error": error}, status=status)
    return web.json_response({"delivery": delivery_id, "queued": True}, status=202)


def reload_rules(service: Service) -> list[str]:
    """Load the rules folder again; on errors the running rules stay in force."""
    if service.runtime is None:
        return ["this instance runs a fixed dispatcher without rules"]
    errors = service.runtime.rules.load(service.now())
    if errors:
        log.error("rules reload refused; the previous rules stay", errors=errors)
    else:
        service.on_rules_reloaded()
    return errors


async def reload_from_source(service: Service) -> list[str]:
    """Rules from a GitLab project: read the ref's head again (errors as a reload's)."""
    assert service.runtime is not None and service.runtime.rules_source is not None
    result = await service.runtime.rules_source.refresh("reload asked for")
    if result.outcome == "unavailable":
        return [result.detail]
    return result.errors


async def reload_and_resume(service: Service) -> list[str]:
    """Reload the rules, then resume the paused rules whose definition changed (rules from
    a GitLab project: read the ref's head, which resumes them when a commit goes live)."""
    if service.runtime is not None and service.runtime.rules_source is not None:
        return await reload_from_source(service)
    errors = reload_rules(service)
    if not errors and service.runtime is not None:
        await service.runtime.rules_reloaded()
    return errors


async def reload(request: web.Request) -> web.Response:
    """Reload the rules: 200 with the count, or 422 with every error."""
    service = _service(request)
    errors = await reload_and_resume(service)
    if errors:
        return web.json_response({"reloaded": False, "errors": errors}, status=422)
    assert service.runtime is not None and service.runtime.rules.rules is not None
    return web.json_response({"reloaded": True, "rules": len(service.runtime.rules.rules.rules)})


async def approve_request(service: Service, approval_id: int) -> tuple[int, str]:
    """An admin approves a request (API or dashboard): (status, what happened or why not)."""
    if service.runtime is None:
        return 404, "this instance runs a fixed dispatcher without rules"
    try:
        decision = await service.runtime.approvals.by_admin(approval_id)
    except TransientFailure as exc:
        # Approved; GitLab failed part-way: the approvals job carries the rest out.
        return 503, f"approved; carrying it out is retried within a minute: {exc}"
    return decision.status, decision.message


async def approve(request: web.Request) -> web.Response:
    """Carry out an approval request's recorded plan: 200, or 404/409 with why not."""
    try:
        approval_id = int(request.match_info["id"])
    except ValueError:
        return web.json_response({"error": "approval id must be a number"}, status=400)
    status, message = await approve_request(_service(request), approval_id)
    if status >= 400:
        return web.json_response({"error": message}, status=status)
    return web.json_response(
        {"approval": approval_id, "approved": True, "outcome": message}, status=status
    )


async def approvals(request: web.Request) -> web.Response:
    """The newest approval requests with their status and outcome."""
    service = _service(request)
    if service.runtime is None:
        return web.json_response({"approvals": []})
    rows = await service.runtime.approvals.db.recent()
    return web.json_response(
        {
            "approvals": [
                {
                    "id": r.id,
                    "rule": r.rule,
                    "status": r.status,
                    "items": r.items,
                    "issue": r.issue_url,
                    "source": r.source,
                    "created_at": r.created_at.isoformat(),
                    "expires_at": r.expires_at.isoformat(),
                    "decided_by": r.decided_by,
                    "outcome": r.outcome,
                }
                for r in rows
            ]
        }
    )


async def resume_rule(service: Service, name: str, by: str) -> tuple[int, str | None]:
    """Resume a rule its circuit breaker paused: (200, None), or (404 | 409, why not)."""
    runtime = service.runtime
    if runtime is None or runtime.rules.rules is None:
        return 404, "this instance runs no rules"
    if name not in {r.name for r in runtime.rules.rules.rules}:
        return 404, f"no rule {name!r} is loaded"
    if await runtime.breaker.resume(name, by=by) is None:
        return 409, f"rule {name!r} is not paused"
    log.info("rule resumed by an admin", rule=name, by=by)
    return 200, None


async def resume(request: web.Request) -> web.Response:
    """Resume a paused rule: 200, 404 unknown rule, 409 not paused."""
    name = request.match_info["name"]
    status, error = await resume_rule(_service(request), name, "admin (API)")
    if error is not None:
        return web.json_response({"error": error}, status=status)
    return web.json_response({"rule": name, "resumed": True})


def setup_admin(app: web.Application) -> None:
    """Add the admin routes and their token check to the app."""
    app.middlewares.append(require_admin)
    app.router.add_post("/admin/deliveries/{id}/replay", replay)
    app.router.add_post("/admin/rules/reload", reload)
    app.router.add_get("/admin/approvals", approvals)
    app.router.add_post("/admin/approvals/{id}/approve", approve)
    app.router.add_post("/admin/rules/{name}/resume", resume)


def uninstall_sighup() -> None:
    """Take SIGHUP back from the loop before it closes.

    The loop's signal handling writes each signal to a wakeup socket that `close()` shuts
    before it forgets the handler: a stop signal in between (the second one of `timeout` or
    Ctrl+C pressed twice) would print a write error into the JSON log.
    """
    with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
        asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)


def install_sighup(service: Service) -> None:
    """SIGHUP reloads the rules (only where signals can be handled: the main thread)."""
    with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
        loop = asyncio.get_running_loop()
        tasks: set[asyncio.Task[list[str]]] = set()

        def on_sighup() -> None:
            task = loop.create_task(reload_and_resume(service))
            tasks.add(task)  # held until done: the loop keeps only a weak reference
            task.add_done_callback(tasks.discard)

        loop.add_signal_handler(signal.SIGHUP, on_sighup)
