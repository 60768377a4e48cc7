"""GET /healthz, /readyz and /metrics: is this instance alive, ready, and how is it doing."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from aiohttp import web

from hooks.catchup.watchdog import hook_statuses
from hooks.service.context import SERVICE, STORE_TIMEOUT_S, Check, ReadyCheck, Service
from hooks.service.runtime import Runtime
from hooks.storage.store import Store


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


def rules_check(runtime: Runtime) -> Check:
    """Rules in force (their version), and why a newer version is not: refused or unread."""
    loaded, source = runtime.rules.rules, runtime.rules_source
    problems = []
    if source is not None and source.unavailable:
        problems.append(f"rules project {source.project} unreadable: {source.unavailable}")
    if runtime.rules.errors:
        refused = f"commit {source.refused_sha[:12]}" if source and source.refused_sha else "reload"
        errors = runtime.rules.errors
        problems.append(f"last {refused} refused ({len(errors)} errors): " + "; ".join(errors[:5]))
    if loaded is None:
        return Check(False, "no rules loaded: " + "; ".join(problems or ["none read yet"]))
    origin = "commit" if loaded.origin == "gitlab" else "folder content"
    detail = f"{len(loaded.rules)} rules, {origin} {loaded.version} from {runtime.rules.origin}"
    return Check(True, "; ".join([detail, *problems]))


def default_checks(service: Service) -> dict[str, ReadyCheck]:
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
            return rules_check(runtime)

        async def gitlab() -> Check:
            if runtime.gateway is None:
                return Check(True, "dry-run: no GitLab token")
            if runtime.bot is None:
                return Check(False, "bot user not resolved yet (GET /user failing)")
            return Check(True, f"acting as @{runtime.bot.username}")

        async def token() -> Check:
            # Expiring soon is a warning in the detail; expired or revoked is not ready.
            return Check(runtime.token.state.ok, runtime.token.state.detail)

        async def scheduler() -> Check:
            running = runtime.scheduler is not None and runtime.scheduler.running
            jobs = len(runtime.scheduler.rules) if runtime.scheduler else 0
            return Check(running, f"{jobs} scheduled rules" if running else "not running")

        async def paused_rules() -> Check:
            # Said, but still ready: a paused rule is that rule's problem, the same on every
            # replica (the state is shared); taking this one out of rotation would stop the
            # other rules and the intake too, and fix nothing.
            paused = await runtime.breaker.paused()
            if not paused:
                return Check(True, "no rule paused")
            return Check(
                True,
                f"{len(paused)} paused: "
                + "; ".join(f"{name} ({state.reason})" for name, state in sorted(paused.items())),
            )

        checks.update(
            rules=rules, gitlab=gitlab, token=token, scheduler=scheduler, breakers=paused_rules
        )
        if runtime.watch_jobs is not None:
            checks["webhooks"] = lambda: webhooks_check(service.store, service.now())
    return checks
