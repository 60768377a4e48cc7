"""The dashboard's routes and their guard: sessions, CSRF, security headers on every /ui page."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from urllib.parse import quote

import jinja2
from aiohttp import web

from hooks.dashboard import approvals_view, views
from hooks.dashboard.login_limit import LoginLimiter
from hooks.dashboard.session import COOKIE, Sessions
from hooks.service.config import Settings

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# No script may run on these pages at all: a payload that slipped past escaping stays inert.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
OPEN_PATHS = ("/ui/login",)


def _refuse(request: web.Request, status: int, message: str) -> web.Response:
    return views.render(request, "ui_error.html", {"message": message}, status=status)


@web.middleware
async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Sessions on /ui: login for browsers, bearer for scripts; admin and CSRF for POSTs."""
    if request.path != "/ui" and not request.path.startswith("/ui/"):
        return await handler(request)
    response = await _without_trailing_slash(request) or await _guarded(request, handler)
    response.headers.update(SECURITY_HEADERS)
    return response


async def _without_trailing_slash(request: web.Request) -> web.Response | None:
    """A dashboard address with a trailing slash that names no page, when the address
    without it does (/ui/ and /ui, /ui/rules/ and /ui/rules): a redirect there, query kept."""
    if request.match_info.http_exception is None or not request.path.endswith("/"):
        return None
    url = request.rel_url
    target = url.with_path(url.path.rstrip("/")).with_query(url.query)
    match = await request.app.router.resolve(request.clone(rel_url=target))
    if match.http_exception is not None:
        return None
    return views.redirect(str(target), status=308)  # 308: a form POST stays a POST


async def _guarded(request: web.Request, handler: Handler) -> web.StreamResponse:
    sessions = request.app[views.SESSIONS]
    if not sessions.enabled:
        return _refuse(
            request, 403, "The dashboard is off: set HOOKS_ADMIN_TOKEN or HOOKS_UI_TOKEN."
        )
    if request.path in OPEN_PATHS:
        return await handler(request)
    authorization = request.headers.get("Authorization")
    if authorization:
        session = sessions.from_header(authorization)
        if session is None:
            return _refuse(request, 401, "That token is not accepted.")
    else:
        session = sessions.read(request.cookies.get(COOKIE))
    if session is None:
        if request.method in ("GET", "HEAD"):
            return views.redirect(f"/ui/login?next={quote(request.path_qs)}")
        return _refuse(request, 401, "Log in first.")
    request[views.SESSION] = session
    if request.method == "POST":
        form = await request.post()
        if not sessions.csrf_ok(session, str(form.get("csrf", "")) or None):
            return _refuse(request, 403, "This form is stale or came from another site (CSRF).")
        if request.path != "/ui/logout" and not session.admin:
            return _refuse(request, 403, "Only an admin session may do this.")
    return await handler(request)


def setup_dashboard(
    app: web.Application, settings: Settings, *, clock: Callable[[], float] = time.monotonic
) -> None:
    """Add the /ui routes, their templates and their session guard to the app."""
    import aiohttp_jinja2

    aiohttp_jinja2.setup(
        app,
        app_key=views.JINJA,
        loader=jinja2.PackageLoader("hooks.dashboard", "templates"),
        autoescape=True,
    )
    app[views.SESSIONS] = Sessions(settings.admin_token, settings.ui_token)
    app[views.LOGIN_LIMIT] = LoginLimiter(
        settings.ui_login_attempts, settings.ui_login_window_s, clock=clock
    )
    app.middlewares.append(guard)
    router = app.router
    router.add_get("/ui", views.index)
    router.add_get("/ui/login", views.login_form)
    router.add_post("/ui/login", views.login)
    router.add_post("/ui/logout", views.logout)
    router.add_get("/ui/deliveries", views.deliveries)
    router.add_get("/ui/deliveries/{id}", views.delivery_trace)
    router.add_post("/ui/deliveries/{id}/replay", views.replay)
    router.add_get("/ui/subjects", views.subject_history)
    router.add_get("/ui/schedules", views.schedules)
    router.add_get("/ui/sprints", views.sprints)
    router.add_get("/ui/rules", views.rules)
    router.add_get("/ui/approvals", approvals_view.approvals)
    router.add_post("/ui/approvals/{id}/approve", approvals_view.approve)
    router.add_post("/ui/rules/{name}/resume", views.resume)
