"""Plumbing every REST module shares: errors shaped like GitLab's, pagination, request bodies,
authentication and the lookups of a route's project, group and issue.

GitLab's error bodies (lib/api/api.rb, lib/api/helpers.rb): resource helpers answer
`{"message": "404 Project Not Found"}`, `{"message": "401 Unauthorized"}`,
`{"message": "403 Forbidden"}`; Grape's parameter validation answers `{"error": "title is
missing"}`; a path no route serves falls to the catch-all `error!('404 Not Found', 404)`, which
Grape's JSON formatter wraps as `{"error": "404 Not Found"}`, and a known path with another
method answers `{"error": "405 Not Allowed"}`.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import structlog
from aiohttp import web
from aiohttp.typedefs import Middleware

if TYPE_CHECKING:
    from hooks.testing.sim_core import SimCore

log = structlog.get_logger("hooks.testing.simulator")
API = "/api/v4"
Handler = Callable[[web.Request], Awaitable[web.Response]]
UserHandler = Callable[[web.Request, int], Awaitable[web.Response]]
UID = web.RequestKey("uid", int)


class ApiError(Exception):
    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(status)
        self.status = status
        self.body = body


def not_found(what: str) -> ApiError:
    return ApiError(404, {"message": f"404 {what} Not Found"})


def bad_request(error: str) -> ApiError:
    """A parameter GitLab's validation refuses: 400 `{"error": ...}`."""
    return ApiError(400, {"error": error})


def json_errors() -> Middleware:
    """aiohttp's own 404/405 (no route, wrong method) as GitLab's JSON bodies."""

    @web.middleware
    async def errors(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        try:
            return await handler(request)
        except web.HTTPMethodNotAllowed:
            return web.json_response({"error": "405 Not Allowed"}, status=405)
        except web.HTTPNotFound:
            return web.json_response({"error": "404 Not Found"}, status=404)
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            return web.json_response({"message": f"{exc.status} {exc.reason}"}, status=exc.status)
        except Exception:  # GitLab's handle_api_exception: a JSON 500, the trace in the log
            log.exception("simulator route failed", path=request.path)
            return web.json_response({"message": "500 Internal Server Error"}, status=500)

    return errors


def paginate(
    request: web.Request,
    items: list[Any],
    *,
    keyset: bool = False,
    shape: Callable[[Any], Any] | None = None,
    totals: bool = True,
) -> web.Response:
    """One page of `items` with X-Page, X-Next-Page, X-Total and Link headers; `keyset` for the
    lists GitLab pages by id on request (projects); other lists ignore `pagination=keyset`.
    `shape` turns the page's items (only those) into their REST form. Without `totals`
    (the commits list, doc/api/commits.md) there is no X-Total, X-Total-Pages or last link."""
    q = request.query
    try:
        per_page = max(1, min(100, int(q.get("per_page", 20))))
        page = max(1, int(q.get("page", 1)))
    except ValueError:
        raise bad_request("page and per_page must be integers") from None
    if keyset and q.get("pagination") == "keyset":
        if q.get("order_by", "id") != "id":
            raise ApiError(
                405, {"error": "Keyset pagination is not yet available for this type of request"}
            )
        return _keyset(request, items, per_page, shape)
    total = len(items)
    pages = max(1, -(-total // per_page))
    chunk = items[(page - 1) * per_page : page * per_page]
    if shape is not None:
        chunk = [shape(item) for item in chunk]
    base = f"{request.scheme}://{request.host}{request.raw_path.split('?', 1)[0]}"

    def link(p: int) -> str:
        query = {**q, "page": str(p), "per_page": str(per_page)}
        return f"{base}?{urlencode(query)}"

    links = []
    if page < pages:
        links.append(f'<{link(page + 1)}>; rel="next"')
    if page > 1:
        links.append(f'<{link(page - 1)}>; rel="prev"')
    links.append(f'<{link(1)}>; rel="first"')
    if totals:
        links.append(f'<{link(pages)}>; rel="last"')
    headers = {
        "X-Page": str(page),
        "X-Per-Page": str(per_page),
        "X-Total": str(total),
        "X-Total-Pages": str(pages),
        "X-Next-Page": str(page + 1) if page < pages else "",
        "X-Prev-Page": str(page - 1) if page > 1 else "",
        "Link": ", ".join(links),
    }
    if not totals:
        del headers["X-Total"], headers["X-Total-Pages"]
    return web.json_response(chunk, headers=headers)


def _keyset(
    request: web.Request, items: list[Any], per_page: int, shape: Callable[[Any], Any] | None
) -> web.Response:
    """Keyset pagination by id: only a `next` Link (id_after/id_before), no totals, as GitLab."""
    q = request.query
    descending = q.get("sort", "desc") == "desc"  # GitLab lists default to descending
    try:
        after = int(q["id_after"]) if "id_after" in q else None
        before = int(q["id_before"]) if "id_before" in q else None
    except ValueError:
        raise bad_request("id_after and id_before must be integers") from None
    ordered = sorted(items, key=lambda item: int(item["id"]), reverse=descending)
    if after is not None:
        ordered = [item for item in ordered if item["id"] > after]
    if before is not None:
        ordered = [item for item in ordered if item["id"] < before]
    chunk = ordered[:per_page]
    headers = {"X-Per-Page": str(per_page)}
    if len(ordered) > per_page:
        cursor = "id_before" if descending else "id_after"
        query = {k: v for k, v in q.items() if k not in ("id_after", "id_before", "page")}
        query[cursor] = str(chunk[-1]["id"])
        base = f"{request.scheme}://{request.host}{request.raw_path.split('?', 1)[0]}"
        headers["Link"] = f'<{base}?{urlencode(query)}>; rel="next"'
    if shape is not None:
        chunk = [shape(item) for item in chunk]
    return web.json_response(chunk, headers=headers)


async def body(request: web.Request) -> dict[str, Any]:
    """Form, JSON or query parameters, as python-gitlab may send any of them."""
    data: dict[str, Any] = dict(request.query)
    if request.body_exists:
        if request.content_type == "application/json":
            try:
                loaded = json.loads(await request.read() or b"{}")
            except ValueError:
                raise bad_request("body is not valid JSON") from None
            if isinstance(loaded, dict):
                data.update(loaded)
        else:
            data.update(await request.post())
    return data


def flag(value: Any) -> bool:
    return value is True or str(value).lower() in ("true", "1", "yes")


def ids(value: Any) -> list[int]:
    if value in (None, ""):
        return []
    if isinstance(value, list):
        return [int(v) for v in value]
    return [int(v) for v in str(value).split(",") if v]


def label_names(value: Any) -> list[str]:
    if value in (None, ""):
        return []
    if isinstance(value, list):
        return [str(v).strip() for v in value if str(v).strip()]
    return [v.strip() for v in str(value).split(",") if v.strip()]


def stamp(value: str) -> datetime:
    text = value.strip().replace(" UTC", "Z").replace(" ", "T")
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise bad_request(f"{value!r} is not an ISO 8601 date and time") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def between(q: Any, items: list[dict[str, Any]], field: str) -> list[dict[str, Any]]:
    """GitLab's `<field>_after`/`<field>_before` (e.g. updated_after): on or after / before."""
    name = field.removesuffix("_at")
    if q.get(f"{name}_after"):
        after = stamp(q[f"{name}_after"])
        items = [i for i in items if stamp(i[field]) >= after]
    if q.get(f"{name}_before"):
        before = stamp(q[f"{name}_before"])
        items = [i for i in items if stamp(i[field]) <= before]
    return items


class Api:
    """Authentication and the lookups every route module needs, bound to one simulator."""

    def __init__(self, sim: SimCore) -> None:
        self.sim = sim
        self.state = sim.state

    def user_of(self, request: web.Request) -> int | None:
        token = request.headers.get("PRIVATE-TOKEN")
        auth = request.headers.get("Authorization", "")
        if token is None and auth.startswith("Bearer "):
            token = auth[7:]
        return self.state.tokens.get(token or "")

    def route(self, handler: UserHandler) -> Handler:
        """An authenticated handler; ApiError becomes GitLab's JSON error answer."""

        async def wrapped(request: web.Request) -> web.Response:
            uid = self.user_of(request)
            if uid is None:
                return web.json_response({"message": "401 Unauthorized"}, status=401)
            request[UID] = uid  # whose request it is, for project_of's visibility
            try:
                return await handler(request, uid)
            except ApiError as exc:
                return web.json_response(exc.body, status=exc.status)

        return wrapped

    def project_of(self, request: web.Request) -> dict[str, Any]:
        project = self.state.project(request.match_info["project"])
        user = self.state.users.get(request.get(UID, 0), {})
        if project is None or project["path_with_namespace"] in user.get("no_access", ()):
            raise not_found("Project")  # GitLab hides a project a user may not read
        return project

    def group_of(self, request: web.Request) -> dict[str, Any]:
        group = self.state.group(request.match_info["group"])
        if group is None:
            raise not_found("Group")
        return group

    def issue_of(self, request: web.Request) -> dict[str, Any]:
        project = self.project_of(request)
        issue = self.state.issue(project["id"], int(request.match_info["iid"]))
        if issue is None:
            raise not_found("Issue")
        return issue

    def writable(self, uid: int) -> None:
        if self.state.users[uid].get("read_only"):
            raise ApiError(403, {"message": "403 Forbidden"})

    def event_uuid(self, request: web.Request) -> str | None:
        return request.headers.get("X-Gitlab-Event-UUID")


def register(app: web.Application, sim: SimCore, routes: list[tuple[str, str, Handler]]) -> None:
    """Add routes whose handlers run under the simulator's lock (body read before taking it)."""
    for method, path, handler in routes:
        app.router.add_route(method, path, _locked(sim, handler))


def _locked(sim: SimCore, handler: Handler) -> Handler:
    async def run(request: web.Request) -> web.Response:
        if request.body_exists:
            await request.read()  # read before taking the lock: no await under it
        with sim.lock:
            return await handler(request)

    return run
