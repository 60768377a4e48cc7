"""The dashboard's pages: deliveries and their traces, subjects, schedules, sprints, rules."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp_jinja2
import jinja2
import structlog
from aiohttp import web

from hooks.catchup.watchdog import hook_statuses
from hooks.dashboard import charts
from hooks.dashboard.login_limit import LoginLimiter
from hooks.dashboard.session import COOKIE, SESSION_TTL_S, Session, Sessions
from hooks.dashboard.sprint_health import KINDS, LEVELS, rollovers, sprint_health
from hooks.dashboard.trace import runs_of, version_link
from hooks.events import HANDLED_EVENTS, EventParseError, parse_event
from hooks.processing.dispatch import event_summary
from hooks.schedules.cli import scheduled_rules
from hooks.service.admin import queue_replay, resume_rule
from hooks.service.context import SERVICE, Service
from hooks.storage.actions import ActionLog
from hooks.storage.resends import ResendStore
from hooks.storage.runs import RunLedger

log = structlog.get_logger("hooks.dashboard")

JINJA = web.AppKey("dashboard_jinja", jinja2.Environment)
SESSIONS = web.AppKey("dashboard_sessions", Sessions)
LOGIN_LIMIT = web.AppKey("dashboard_login_limit", LoginLimiter)
SESSION = web.RequestKey("dashboard_session", Session)
OUTCOMES = ("pending", "processing", "done", "partial", "failed")
KINDS_SEEN = tuple(dict.fromkeys(HANDLED_EVENTS.values()))
PAGE = 50
PAYLOAD_SHOWN = 64 * 1024


def _service(request: web.Request) -> Service:
    return request.app[SERVICE]


def render(
    request: web.Request, template: str, context: dict[str, Any], status: int = 200
) -> web.Response:
    """A page with the navigation, the session's role and its CSRF token filled in."""
    session: Session | None = request.get(SESSION)
    base = {
        "session": session,
        "csrf": request.app[SESSIONS].csrf_token(session) if session else "",
        "path": request.path,
    }
    return aiohttp_jinja2.render_template(
        template, request, {**base, **context}, app_key=JINJA, status=status
    )


def redirect(location: str, status: int = 303) -> web.Response:
    """See Other (after a form) or Found, to a dashboard path."""
    return web.Response(status=status, headers={"Location": location})


# -- login ----------------------------------------------------------------------------


def _safe_next(target: str | None) -> str:
    """Only a dashboard path (never another site) to go to after logging in."""
    if target and target.startswith("/ui") and not target.startswith("//"):
        return target
    return "/ui/deliveries"


async def login_form(request: web.Request) -> web.Response:
    return render(request, "ui_login.html", {"next": _safe_next(request.query.get("next"))})


async def login(request: web.Request) -> web.Response:
    """Exchange the admin or dashboard token for a session cookie (failures limited)."""
    limiter, address = request.app[LOGIN_LIMIT], request.remote or "unknown"
    wait = limiter.retry_after(address)
    if wait is not None:
        # Not even the token is read: its value is nowhere near this log line.
        log.warning("dashboard login throttled", remote=address, retry_after_s=wait)
        message = f"Too many failed sign-ins from your address: try again in {wait} seconds."
        response = render(request, "ui_error.html", {"message": message}, status=429)
        response.headers["Retry-After"] = str(wait)
        return response
    form = await request.post()
    target = _safe_next(str(form.get("next", "")))
    role = request.app[SESSIONS].role_for(str(form.get("token", "")))
    if role is None:
        limiter.failed(address)
        log.info("dashboard login refused", remote=request.remote)
        context = {"next": target, "error": "That token is not accepted."}
        return render(request, "ui_login.html", context, status=401)
    response = redirect(target)
    response.set_cookie(
        COOKIE,
        request.app[SESSIONS].issue(role),
        max_age=SESSION_TTL_S,
        path="/ui",
        httponly=True,
        samesite="Strict",
        secure=request.secure,
    )
    log.info("dashboard login", role=role, remote=request.remote)
    return response


async def logout(_request: web.Request) -> web.Response:
    response = redirect("/ui/login")
    response.del_cookie(COOKIE, path="/ui")
    return response


# -- deliveries ---------------------------------------------------------------------


async def index(_request: web.Request) -> web.Response:
    return redirect("/ui/deliveries", status=302)


def _int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


async def deliveries(request: web.Request) -> web.Response:
    """Newest first, filtered by kind, project and outcome, a page at a time."""
    query = request.query
    kind = query.get("kind") if query.get("kind") in KINDS_SEEN else None
    outcome = query.get("outcome") if query.get("outcome") in OUTCOMES else None
    project = (query.get("project") or "").strip()[:400] or None
    before = _int(query.get("before"))
    found = await _service(request).store.list_deliveries(
        status=outcome, kind=kind, project=project, limit=PAGE + 1, before_id=before
    )
    page, more = found[:PAGE], len(found) > PAGE
    filters = {"kind": kind or "", "project": project or "", "outcome": outcome or ""}
    next_query = {k: v for k, v in filters.items() if v}
    if more:
        next_query["before"] = str(page[-1].id)
    context = {
        "deliveries": page,
        "filters": filters,
        "kinds": KINDS_SEEN,
        "outcomes": OUTCOMES,
        "next_query": next_query if more else None,
    }
    return render(request, "ui_deliveries.html", context)


def _payload(delivery: Any) -> tuple[dict[str, object], str]:
    """The event summary (as the audit trail records it) and the payload, pretty-printed."""
    text = delivery.body[:PAYLOAD_SHOWN].decode("utf-8", "replace")
    try:
        summary = event_summary(parse_event(delivery.event_header, delivery.body))
        text = json.dumps(json.loads(delivery.body), indent=2)[:PAYLOAD_SHOWN]
    except (EventParseError, ValueError):
        summary = {"kind": delivery.kind, "project": delivery.project}
    return summary, text


async def delivery_trace(request: web.Request) -> web.Response:
    """One delivery: its payload, then each run with every rule and every action."""
    service = _service(request)
    delivery_id = _int(request.match_info["id"])
    delivery = await service.store.get_delivery(delivery_id) if delivery_id else None
    if delivery is None:
        return render(request, "ui_error.html", {"message": "No such delivery."}, status=404)
    trail = await service.store.audit_for(delivery_id=delivery.id)
    summary, payload = _payload(delivery)
    context = {
        "delivery": delivery,
        "summary": summary,
        "payload": payload,
        "runs": runs_of(trail),
        "commit_url": lambda version: version_link(
            version, service.settings.gitlab_url, service.settings.rules_project
        ),
        "busy": delivery.status in ("pending", "processing"),
        "message": request.query.get("message", "")[:200],
    }
    return render(request, "ui_trace.html", context)


async def replay(request: web.Request) -> web.Response:
    """Queue the delivery again (admin session and CSRF token checked by the middleware)."""
    delivery_id = _int(request.match_info["id"])
    if delivery_id is None:
        return render(request, "ui_error.html", {"message": "No such delivery."}, status=404)
    status, error = await queue_replay(_service(request), delivery_id)
    if error is not None:
        return render(request, "ui_error.html", {"message": error}, status=status)
    return redirect(f"/ui/deliveries/{delivery_id}?message=Replay+queued")


# -- subjects -------------------------------------------------------------------------


async def subject_history(request: web.Request) -> web.Response:
    """Everything the bot did to one `project#iid`, newest first, and the events about it."""
    subject = (request.query.get("subject") or "").strip()[:400]
    service = _service(request)
    actions, events = [], []
    if subject:
        actions = list(reversed(await ActionLog(service.store).for_subject(subject)))
        trail = await service.store.audit_for(subject=subject)
        events = [line for line in reversed(trail) if line["kind"] == "event"]
    # "Why did the bot do this?": each rule's own description, beside its actions.
    ruleset = service.runtime.rules.rules if service.runtime else None
    why = {r.name: r.description for r in ruleset.rules if r.description} if ruleset else {}
    context = {"subject": subject, "actions": actions, "events": events, "why": why}
    return render(request, "ui_subject.html", context)


# -- schedules ----------------------------------------------------------------------


async def schedules(request: web.Request) -> web.Response:
    """Each scheduled rule: its next fire times and its last runs with their outcomes."""
    service = _service(request)
    ruleset = service.runtime.rules.rules if service.runtime else None
    found = []
    if ruleset is not None:
        found = await scheduled_rules(
            ruleset,
            RunLedger(service.store),
            service.now(),
            count=5,
            runs=5,
            default_tz=service.settings.timezone,
        )
    hooks = await hook_statuses(service.store, service.now())
    resent = [r.as_dict() for r in await ResendStore(service.store).recent()]
    context = {"scheduled": found, "webhooks": hooks, "resent": resent}
    return render(request, "ui_schedules.html", context)


# -- sprint health --------------------------------------------------------------------


async def sprints(request: web.Request) -> web.Response:
    """Health counts over the last two weeks for the latest sprints; roll-overs per sprint."""
    service = _service(request)
    now = service.now()
    rows = await ActionLog(service.store).of_kinds(KINDS, now - timedelta(days=90))
    health = sprint_health(rows, now.date())
    context = {
        "sprints": [(s, charts.line_chart(s.days, s.counts)) for s in health],
        "levels": LEVELS,
        "colours": charts.COLOURS,
        "rollovers": charts.bar_chart(rollovers(rows)),
    }
    return render(request, "ui_sprints.html", context)


# -- rules --------------------------------------------------------------------------------


async def rules(request: web.Request) -> web.Response:
    """The rules in force with their triggers and last match, and the last reload's errors."""
    service = _service(request)
    loaded = service.runtime.rules if service.runtime else None
    ruleset = loaded.rules if loaded else None
    rows = []
    paused = await service.runtime.breaker.paused() if service.runtime else {}
    if ruleset is not None:
        last = await service.store.last_matches()
        for rule in ruleset.rules:
            source = ruleset.sources.get(rule.name)
            rows.append(
                {
                    "rule": rule,
                    "on": json.dumps(
                        rule.on.model_dump(mode="json", exclude_none=True, exclude_unset=True)
                    ),
                    "source": f"{Path(source.file).name}:{source.line}" if source else "",
                    "last_match": last.get(rule.name),
                    "paused": paused.get(rule.name),
                }
            )
    follows = service.runtime.rules_source if service.runtime else None
    context = {
        "rows": rows,
        "loaded": loaded,
        "errors": loaded.errors if loaded else [],
        "version": ruleset.version if ruleset else None,
        "commit_url": version_link(
            ruleset.version if ruleset else None,
            service.settings.gitlab_url,
            service.settings.rules_project,
        ),
        "refused_sha": follows.refused_sha if follows else None,
        "unavailable": follows.unavailable if follows else None,
        "message": request.query.get("message", "")[:200],
    }
    return render(request, "ui_rules.html", context)


async def resume(request: web.Request) -> web.Response:
    """Resume a paused rule (admin session and CSRF token checked by the middleware)."""
    name = request.match_info["name"]
    status, error = await resume_rule(_service(request), name, "admin (dashboard)")
    if error is not None:
        return render(request, "ui_error.html", {"message": error}, status=status)
    return redirect(f"/ui/rules?{urlencode({'message': f'Rule {name} resumed'})}")
