"""The REST API subset under /api/v4, with GitLab's field names, statuses and pagination."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from aiohttp import web

from hooks.testing.sim_state import timestamp

if TYPE_CHECKING:
    from hooks.testing.simulator import Simulator

API = "/api/v4"
Handler = Callable[[web.Request], Awaitable[web.Response]]


class ApiError(Exception):
    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(status)
        self.status = status
        self.body = body


def not_found(what: str) -> ApiError:
    return ApiError(404, {"message": f"404 {what} Not Found"})


def paginate(request: web.Request, items: list[Any]) -> web.Response:
    """One page of `items` with X-Page, X-Next-Page, X-Total and Link headers."""
    q = request.query
    try:
        per_page = max(1, min(100, int(q.get("per_page", 20))))
        page = max(1, int(q.get("page", 1)))
    except ValueError:
        raise ApiError(400, {"error": "page and per_page must be integers"}) from None
    if q.get("pagination") == "keyset" and all("id" in item for item in items):
        return _keyset(request, items, per_page)
    total = len(items)
    pages = max(1, -(-total // per_page))
    chunk = items[(page - 1) * per_page : page * per_page]
    base = f"{request.scheme}://{request.host}{request.raw_path.split('?', 1)[0]}"

    def link(p: int) -> str:
        query = {**q, "page": str(p), "per_page": str(per_page)}
        return f"{base}?{urlencode(query)}"

    links = []
    if page < pages:
        links.append(f'<{link(page + 1)}>; rel="next"')
    if page > 1:
        links.append(f'<{link(page - 1)}>; rel="prev"')
    links += [f'<{link(1)}>; rel="first"', f'<{link(pages)}>; rel="last"']
    headers = {
        "X-Page": str(page),
        "X-Per-Page": str(per_page),
        "X-Total": str(total),
        "X-Total-Pages": str(pages),
        "X-Next-Page": str(page + 1) if page < pages else "",
        "X-Prev-Page": str(page - 1) if page > 1 else "",
        "Link": ", ".join(links),
    }
    return web.json_response(chunk, headers=headers)


def _keyset(request: web.Request, items: list[Any], per_page: int) -> web.Response:
    """Keyset pagination by id: only a `next` Link (id_after/id_before), no totals, as GitLab."""
    q = request.query
    descending = q.get("sort", "desc") == "desc"  # GitLab lists default to descending
    try:
        after = int(q["id_after"]) if "id_after" in q else None
        before = int(q["id_before"]) if "id_before" in q else None
    except ValueError:
        raise ApiError(400, {"error": "id_after and id_before must be integers"}) from None
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
    return web.json_response(chunk, headers=headers)


def special_milestones(milestones: list[dict[str, Any]], which: str, today: date) -> set[int]:
    """GitLab's `Started` (active, begun, not yet due) or `Upcoming` (per owner, the active
    milestone with the nearest future due date) milestone ids."""
    now = today.isoformat()
    active = [m for m in milestones if m["state"] == "active"]
    if which == "Started":
        return {
            m["id"]
            for m in active
            if m["start_date"] and m["start_date"] <= now and (m["due_date"] or now) >= now
        }
    nearest: dict[tuple[Any, Any], dict[str, Any]] = {}
    for m in active:
        if m["due_date"] and m["due_date"] > now:
            owner = (m.get("project_id"), m.get("group_id"))
            if owner not in nearest or m["due_date"] < nearest[owner]["due_date"]:
                nearest[owner] = m
    return {m["id"] for m in nearest.values()}


async def body(request: web.Request) -> dict[str, Any]:
    """Form, JSON or query parameters, as python-gitlab may send any of them."""
    data: dict[str, Any] = dict(request.query)
    if request.body_exists:
        if request.content_type == "application/json":
            try:
                loaded = json.loads(await request.read() or b"{}")
            except ValueError:
                raise ApiError(400, {"error": "body is not valid JSON"}) from None
            if isinstance(loaded, dict):
                data.update(loaded)
        else:
            data.update(await request.post())
    return data


def _bool(value: Any) -> bool:
    return value is True or str(value).lower() in ("true", "1", "yes")


def _ids(value: Any) -> list[int]:
    if value in (None, ""):
        return []
    if isinstance(value, list):
        return [int(v) for v in value]
    return [int(v) for v in str(value).split(",") if v]


def _labels(value: Any) -> list[str]:
    if value in (None, ""):
        return []
    if isinstance(value, list):
        return [str(v).strip() for v in value if str(v).strip()]
    return [v.strip() for v in str(value).split(",") if v.strip()]


def routes(sim: Simulator) -> list[tuple[str, str, Handler]]:
    s = sim.state

    def api(handler: Callable[[web.Request, int], Awaitable[web.Response]]) -> Handler:
        async def wrapped(request: web.Request) -> web.Response:
            token = request.headers.get("PRIVATE-TOKEN")
            auth = request.headers.get("Authorization", "")
            if token is None and auth.startswith("Bearer "):
                token = auth[7:]
            uid = s.tokens.get(token or "")
            if uid is None:
                return web.json_response({"message": "401 Unauthorized"}, status=401)
            try:
                return await handler(request, uid)
            except ApiError as exc:
                return web.json_response(exc.body, status=exc.status)

        return wrapped

    def project_of(request: web.Request) -> dict[str, Any]:
        project = s.project(request.match_info["project"])
        if project is None:
            raise not_found("Project")
        return project

    def group_of(request: web.Request) -> dict[str, Any]:
        group = s.group(request.match_info["group"])
        if group is None:
            raise not_found("Group")
        return group

    def issue_of(request: web.Request) -> dict[str, Any]:
        project = project_of(request)
        issue = s.issue(project["id"], int(request.match_info["iid"]))
        if issue is None:
            raise not_found("Issue")
        return issue

    def writable(uid: int) -> None:
        if s.users[uid].get("read_only"):
            raise ApiError(403, {"message": "403 Forbidden"})

    async def current_user(request: web.Request, uid: int) -> web.Response:
        return web.json_response({**s.users[uid], "is_admin": False, "bot": uid == 1})

    async def version(request: web.Request, uid: int) -> web.Response:
        return web.json_response({"version": "18.5.0-sim", "revision": "sim"})

    async def users(request: web.Request, uid: int) -> web.Response:
        name = request.query.get("username")
        found = [u for u in s.users.values() if name is None or u["username"] == name]
        return paginate(request, found)

    async def get_project(request: web.Request, uid: int) -> web.Response:
        return web.json_response(project_of(request))

    async def get_group(request: web.Request, uid: int) -> web.Response:
        return web.json_response(group_of(request))

    def filter_issues(request: web.Request, issues: list[dict[str, Any]]) -> list[dict[str, Any]]:
        q = request.query
        state = q.get("state", "all")
        if state in ("opened", "closed"):
            issues = [i for i in issues if i["state"] == state]
        if q.get("labels"):
            wanted = _labels(q["labels"])
            if wanted == ["None"]:
                issues = [i for i in issues if not i["labels"]]
            elif wanted == ["Any"]:
                issues = [i for i in issues if i["labels"]]
            else:
                issues = [i for i in issues if all(w in i["labels"] for w in wanted)]
        milestone = q.get("milestone") or q.get("milestone_id")
        if milestone:
            if milestone == "None":
                issues = [i for i in issues if not i["milestone_id"]]
            elif milestone == "Any":
                issues = [i for i in issues if i["milestone_id"]]
            elif milestone in ("Upcoming", "Started"):
                ok = special_milestones(list(s.milestones.values()), milestone, sim.today)
                issues = [i for i in issues if i["milestone_id"] in ok]
            else:
                ids = {m["id"] for m in s.milestones.values() if m["title"] == milestone}
                issues = [i for i in issues if i["milestone_id"] in ids]
        if q.get("iteration_id"):
            issues = [i for i in issues if str(i["iteration_id"]) == q["iteration_id"]]
        if q.get("assignee_username"):
            user = s.user_by_name(q["assignee_username"])
            issues = [i for i in issues if user and user["id"] in i["assignee_ids"]]
        if q.get("author_username"):
            author = s.user_by_name(q["author_username"])
            issues = [i for i in issues if author and i["author_id"] == author["id"]]
        issues = updated_between(q, issues)
        if q.get("search"):
            term = q["search"].lower()
            fields = q.get("in", "title,description").split(",")
            issues = [i for i in issues if any(term in (i.get(f) or "").lower() for f in fields)]
        if q.get("iids[]"):
            wanted_iids = {int(v) for v in q.getall("iids[]")}
            issues = [i for i in issues if i["iid"] in wanted_iids]
        order = q.get("order_by", "created_at")
        key = "id" if order in ("created_at", "id") else order
        issues.sort(
            key=lambda i: (i.get(key) or "", i["id"]), reverse=q.get("sort", "desc") == "desc"
        )
        return issues

    async def project_issues(request: web.Request, uid: int) -> web.Response:
        pid = project_of(request)["id"]
        found = filter_issues(request, [i for i in s.issues.values() if i["project_id"] == pid])
        return paginate(request, [sim.issue_rest(i) for i in found])

    async def group_issues(request: web.Request, uid: int) -> web.Response:
        gid = group_of(request)["id"]
        pids = {p["id"] for p in s.projects.values() if p["namespace"]["id"] == gid}
        found = filter_issues(request, [i for i in s.issues.values() if i["project_id"] in pids])
        return paginate(request, [sim.issue_rest(i) for i in found])

    async def all_issues(request: web.Request, uid: int) -> web.Response:
        found = filter_issues(request, list(s.issues.values()))
        return paginate(request, [sim.issue_rest(i) for i in found])

    async def get_issue(request: web.Request, uid: int) -> web.Response:
        return web.json_response(sim.issue_rest(issue_of(request)))

    async def create_issue(request: web.Request, uid: int) -> web.Response:
        writable(uid)
        project = project_of(request)
        data = await body(request)
        if not data.get("title"):
            raise ApiError(400, {"error": "title is missing"})
        fields = {
            "title": data["title"],
            "description": data.get("description", ""),
            "labels": _labels(data.get("labels")),
            "milestone_id": int(data["milestone_id"]) if data.get("milestone_id") else None,
            "assignee_ids": _ids(data.get("assignee_ids")),
            "due_date": data.get("due_date") or None,
            "confidential": _bool(data.get("confidential")),
        }
        if fields["milestone_id"] and fields["milestone_id"] not in s.milestones:
            raise ApiError(404, {"message": "404 Milestone Not Found"})
        issue = sim.create_issue(
            project, fields, author_id=uid, event_uuid=request.headers.get("X-Gitlab-Event-UUID")
        )
        return web.json_response(sim.issue_rest(issue), status=201)

    async def edit_issue(request: web.Request, uid: int) -> web.Response:
        writable(uid)
        issue = issue_of(request)
        data = await body(request)
        changes: dict[str, Any] = {}
        labels = list(issue["labels"])
        if "labels" in data:
            labels = _labels(data["labels"])
        labels += [lbl for lbl in _labels(data.get("add_labels")) if lbl not in labels]
        removed = set(_labels(data.get("remove_labels")))
        labels = [lbl for lbl in labels if lbl not in removed]
        if labels != issue["labels"]:
            changes["labels"] = labels
        if "milestone_id" in data:
            mid = data["milestone_id"]
            mid = int(mid) if mid not in (None, "", "0", 0) else None
            if mid is not None and mid not in s.milestones:
                raise ApiError(404, {"message": "404 Milestone Not Found"})
            changes["milestone_id"] = mid
        if "assignee_ids" in data:
            changes["assignee_ids"] = _ids(data["assignee_ids"])
        for key in ("title", "description", "due_date"):
            if key in data:
                changes[key] = data[key] or (None if key == "due_date" else "")
        if "confidential" in data:
            changes["confidential"] = _bool(data["confidential"])
        event = data.get("state_event")
        if event == "close":
            changes["state"] = "closed"
        elif event == "reopen":
            changes["state"] = "opened"
        elif event:
            raise ApiError(400, {"error": "state_event does not have a valid value"})
        sim.update_issue(
            issue, changes, actor_id=uid, event_uuid=request.headers.get("X-Gitlab-Event-UUID")
        )
        return web.json_response(sim.issue_rest(issue))

    async def label_events(request: web.Request, uid: int) -> web.Response:
        return paginate(request, s.label_events.get(issue_of(request)["id"], []))

    async def list_links(request: web.Request, uid: int) -> web.Response:
        issue = issue_of(request)
        out = []
        for link in s.links:
            if issue["id"] in (link["source"], link["target"]):
                other = s.issues[
                    link["target"] if link["source"] == issue["id"] else link["source"]
                ]
                out.append(
                    {
                        **sim.issue_rest(other),
                        "issue_link_id": link["id"],
                        "link_type": link["link_type"],
                    }
                )
        return web.json_response(out)

    async def create_link(request: web.Request, uid: int) -> web.Response:
        writable(uid)
        issue = issue_of(request)
        data = await body(request)
        target_project = s.project(str(data.get("target_project_id", "")))
        if target_project is None:
            raise not_found("Project")
        target = s.issue(target_project["id"], int(data.get("target_issue_iid", 0)))
        if target is None:
            raise not_found("Issue")
        link_type = data.get("link_type", "relates_to")
        if link_type not in ("relates_to", "blocks", "is_blocked_by"):
            raise ApiError(400, {"error": "link_type does not have a valid value"})
        for link in s.links:
            if {link["source"], link["target"]} == {issue["id"], target["id"]}:
                raise ApiError(409, {"message": "Issue(s) already assigned"})
        link = {
            "id": s.new_id("link"),
            "source": issue["id"],
            "target": target["id"],
            "link_type": link_type,
        }
        s.links.append(link)
        return web.json_response(
            {
                "source_issue": sim.issue_rest(issue),
                "target_issue": sim.issue_rest(target),
                "link_type": link_type,
            },
            status=201,
        )

    def filter_milestones(
        request: web.Request, items: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        q = request.query
        if q.get("state") in ("active", "closed"):
            items = [m for m in items if m["state"] == q["state"]]
        if q.get("title"):
            items = [m for m in items if m["title"] == q["title"]]
        if q.get("search"):
            items = [m for m in items if q["search"].lower() in m["title"].lower()]
        if q.get("iids[]"):
            iids = {int(v) for v in q.getall("iids[]")}
            items = [m for m in items if m["iid"] in iids]
        items = updated_between(q, items)
        return [sim.milestone_rest(m) for m in sorted(items, key=lambda m: m["id"])]

    async def project_milestones(request: web.Request, uid: int) -> web.Response:
        project = project_of(request)
        own = [m for m in s.milestones.values() if m.get("project_id") == project["id"]]
        if _bool(
            request.query.get("include_ancestors") or request.query.get("include_parent_milestones")
        ):
            own = s.milestones_of(project)
        return paginate(request, filter_milestones(request, own))

    async def group_milestones(request: web.Request, uid: int) -> web.Response:
        gid = group_of(request)["id"]
        own = [m for m in s.milestones.values() if m.get("group_id") == gid]
        return paginate(request, filter_milestones(request, own))

    def milestone_of(request: web.Request) -> dict[str, Any]:
        mid = int(request.match_info["mid"])
        m = s.milestones.get(mid)
        owner = request.match_info.get("project") or request.match_info.get("group")
        if m is None or owner is None:
            raise not_found("Milestone")
        if "project" in request.match_info:
            if m.get("project_id") != project_of(request)["id"]:
                raise not_found("Milestone")
        elif m.get("group_id") != group_of(request)["id"]:
            raise not_found("Milestone")
        return m

    async def get_milestone(request: web.Request, uid: int) -> web.Response:
        return web.json_response(sim.milestone_rest(milestone_of(request)))

    async def create_milestone(request: web.Request, uid: int) -> web.Response:
        writable(uid)
        data = await body(request)
        if not data.get("title"):
            raise ApiError(400, {"error": "title is missing"})
        owner: dict[str, Any]
        if "project" in request.match_info:
            owner = {"project": project_of(request)["path_with_namespace"]}
        else:
            owner = {"group": group_of(request)["full_path"]}
        m = sim._add_milestone(
            {
                **owner,
                "title": data["title"],
                "description": data.get("description", ""),
                "start_date": data.get("start_date"),
                "due_date": data.get("due_date"),
            },
            sim.today,
        )
        sim.milestone_hook(m, "create", request.headers.get("X-Gitlab-Event-UUID"))
        return web.json_response(sim.milestone_rest(m), status=201)

    async def edit_milestone(request: web.Request, uid: int) -> web.Response:
        writable(uid)
        m = milestone_of(request)
        data = await body(request)
        for key in ("title", "description", "start_date", "due_date"):
            if key in data:
                m[key] = data[key]
        event = data.get("state_event")
        action = None
        if event == "close" and m["state"] != "closed":
            m["state"], action = "closed", "close"
        elif event == "activate" and m["state"] != "active":
            m["state"], action = "active", "reopen"
        m["updated_at"] = timestamp(sim.now())
        if action:
            sim.milestone_hook(m, action, request.headers.get("X-Gitlab-Event-UUID"))
        return web.json_response(sim.milestone_rest(m))

    async def milestone_issues(request: web.Request, uid: int) -> web.Response:
        m = milestone_of(request)
        found = [i for i in s.issues.values() if i["milestone_id"] == m["id"]]
        return paginate(request, [sim.issue_rest(i) for i in sorted(found, key=lambda i: i["id"])])

    async def iterations(request: web.Request, uid: int) -> web.Response:
        if "project" in request.match_info:
            project = project_of(request)
            gid = project["namespace"]["id"]
        else:
            gid = group_of(request)["id"]
        found = [i for i in s.iterations.values() if i["group_id"] == gid]
        return paginate(request, found)

    def labels_for(request: web.Request) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        if "project" in request.match_info:
            project = project_of(request)
            group = s.project_group(project)
            found = [
                lbl
                for lbl in s.labels.values()
                if lbl["project_id"] == project["id"] or (group and lbl["group_id"] == group["id"])
            ]
            return found, {"project": project["path_with_namespace"]}
        group = group_of(request)
        return [lbl for lbl in s.labels.values() if lbl["group_id"] == group["id"]], {
            "group": group["full_path"]
        }

    async def list_labels(request: web.Request, uid: int) -> web.Response:
        return paginate(request, labels_for(request)[0])

    async def create_label(request: web.Request, uid: int) -> web.Response:
        writable(uid)
        data = await body(request)
        existing, owner = labels_for(request)
        if not data.get("name"):
            raise ApiError(400, {"error": "name is missing"})
        if any(lbl["name"] == data["name"] for lbl in existing):
            raise ApiError(409, {"message": "Label already exists"})
        label = sim._add_label(
            {**owner, "title": data["name"], "color": data.get("color", "#6699cc")}
        )
        return web.json_response(label, status=201)

    async def releases(request: web.Request, uid: int) -> web.Response:
        pid = project_of(request)["id"]
        return paginate(request, [r for (p, _t), r in s.releases.items() if p == pid])

    async def get_release(request: web.Request, uid: int) -> web.Response:
        release = s.releases.get((project_of(request)["id"], request.match_info["tag"]))
        if release is None:
            raise not_found("Release")
        return web.json_response(release)

    # hooks -------------------------------------------------------------------------

    def hook_owner(request: web.Request) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        if "project" in request.match_info:
            return project_of(request), None
        return None, group_of(request)

    def hooks_of(request: web.Request) -> list[dict[str, Any]]:
        project, group = hook_owner(request)
        return [
            h
            for h in s.hooks.values()
            if (project and h.get("project_id") == project["id"])
            or (group and h.get("group_id") == group["id"])
        ]

    def hook_of(request: web.Request) -> dict[str, Any]:
        hid = int(request.match_info["hook_id"])
        found = next((h for h in hooks_of(request) if h["id"] == hid), None)
        if found is None:
            raise not_found("Hook")
        return found

    async def list_hooks(request: web.Request, uid: int) -> web.Response:
        return paginate(request, [hook_rest(h) for h in hooks_of(request)])

    async def get_hook(request: web.Request, uid: int) -> web.Response:
        return web.json_response(hook_rest(hook_of(request)))

    async def add_hook(request: web.Request, uid: int) -> web.Response:
        writable(uid)
        data = await body(request)
        if not data.get("url"):
            raise ApiError(400, {"error": "url is missing"})
        project, group = hook_owner(request)
        hook = new_hook(sim, data, project=project, group=group)
        return web.json_response(hook_rest(hook), status=201)

    async def edit_hook(request: web.Request, uid: int) -> web.Response:
        writable(uid)
        hook = hook_of(request)
        data = await body(request)
        for key in (*HOOK_FLAGS, "url", "token"):
            if key in data:
                hook[key] = _bool(data[key]) if key in HOOK_FLAGS else data[key]
        return web.json_response(hook_rest(hook))

    async def delete_hook(request: web.Request, uid: int) -> web.Response:
        writable(uid)
        hook = hook_of(request)
        del s.hooks[hook["id"]]
        return web.Response(status=204)

    async def test_hook(request: web.Request, uid: int) -> web.Response:
        hook = hook_of(request)
        project, _group = hook_owner(request)
        target = project or next(iter(s.projects.values()))
        # GitLab's "test" delivery also re-enables a disabled hook when it succeeds.
        hook.update(alert_status="executable", disabled_until=None, recent_failures=0)
        trigger = str(request.match_info["trigger"])
        sample = next((i for i in s.issues.values() if i["project_id"] == target["id"]), None)
        if trigger == "push_events":
            # GitLab's push test uses the project's last commits; the simulator has no
            # repository, so the payload carries none.
            push = {
                "object_kind": "push",
                "event_name": "push",
                "ref": "refs/heads/main",
                "project": sim.project_hook_payload(target),
                "commits": [],
                "total_commits_count": 0,
            }
            status = await sim.webhooks.send(hook, "Push Hook", push, trigger)
            if not (isinstance(status, int) and 200 <= status < 400):
                return web.json_response({"message": f"[{status}] hook test failed"}, status=422)
            return web.json_response({"message": "201 Created"}, status=201)
        payload: dict[str, Any] = {
            "object_kind": "issue",
            "project": sim.project_hook_payload(target),
        }
        if sample is not None:
            payload = {
                "object_kind": "issue",
                "event_type": "issue",
                "project": sim.project_hook_payload(target),
                "object_attributes": {**sim.issue_rest(sample), "action": "open"},
            }
        status = await sim.webhooks.send(hook, "Issue Hook", payload, trigger)
        if not (isinstance(status, int) and 200 <= status < 400):
            return web.json_response({"message": f"[{status}] hook test failed"}, status=422)
        return web.json_response({"message": "201 Created"}, status=201)

    async def hook_events(request: web.Request, uid: int) -> web.Response:
        # GitLab 17.3+: the hook's recent deliveries, newest first, filtered by status.
        hook = hook_of(request)
        wanted = request.query.get("status")
        found = [
            e
            for e in reversed(sim.webhooks.log(hook["id"]))
            if wanted is None
            or _status_class(e["response_status"]) == wanted
            or str(e["response_status"]) == wanted
        ]
        return paginate(request, found)

    p = f"{API}/projects/{{project}}"
    g = f"{API}/groups/{{group}}"
    return [
        ("GET", f"{API}/user", api(current_user)),
        ("GET", f"{API}/version", api(version)),
        ("GET", f"{API}/users", api(users)),
        ("GET", p, api(get_project)),
        ("GET", g, api(get_group)),
        ("GET", f"{API}/issues", api(all_issues)),
        ("GET", f"{p}/issues", api(project_issues)),
        ("POST", f"{p}/issues", api(create_issue)),
        ("GET", f"{g}/issues", api(group_issues)),
        ("GET", f"{p}/issues/{{iid:\\d+}}", api(get_issue)),
        ("PUT", f"{p}/issues/{{iid:\\d+}}", api(edit_issue)),
        ("GET", f"{p}/issues/{{iid:\\d+}}/resource_label_events", api(label_events)),
        ("GET", f"{p}/issues/{{iid:\\d+}}/links", api(list_links)),
        ("POST", f"{p}/issues/{{iid:\\d+}}/links", api(create_link)),
        ("GET", f"{p}/milestones", api(project_milestones)),
        ("POST", f"{p}/milestones", api(create_milestone)),
        ("GET", f"{p}/milestones/{{mid:\\d+}}", api(get_milestone)),
        ("PUT", f"{p}/milestones/{{mid:\\d+}}", api(edit_milestone)),
        ("GET", f"{p}/milestones/{{mid:\\d+}}/issues", api(milestone_issues)),
        ("GET", f"{g}/milestones", api(group_milestones)),
        ("POST", f"{g}/milestones", api(create_milestone)),
        ("GET", f"{g}/milestones/{{mid:\\d+}}", api(get_milestone)),
        ("PUT", f"{g}/milestones/{{mid:\\d+}}", api(edit_milestone)),
        ("GET", f"{g}/milestones/{{mid:\\d+}}/issues", api(milestone_issues)),
        ("GET", f"{p}/iterations", api(iterations)),
        ("GET", f"{g}/iterations", api(iterations)),
        ("GET", f"{p}/labels", api(list_labels)),
        ("POST", f"{p}/labels", api(create_label)),
        ("GET", f"{g}/labels", api(list_labels)),
        ("POST", f"{g}/labels", api(create_label)),
        ("GET", f"{p}/releases", api(releases)),
        ("GET", f"{p}/releases/{{tag}}", api(get_release)),
        ("GET", f"{p}/hooks", api(list_hooks)),
        ("POST", f"{p}/hooks", api(add_hook)),
        ("GET", f"{p}/hooks/{{hook_id:\\d+}}", api(get_hook)),
        ("PUT", f"{p}/hooks/{{hook_id:\\d+}}", api(edit_hook)),
        ("DELETE", f"{p}/hooks/{{hook_id:\\d+}}", api(delete_hook)),
        ("POST", f"{p}/hooks/{{hook_id:\\d+}}/test/{{trigger}}", api(test_hook)),
        ("GET", f"{p}/hooks/{{hook_id:\\d+}}/events", api(hook_events)),
        ("GET", f"{g}/hooks", api(list_hooks)),
        ("POST", f"{g}/hooks", api(add_hook)),
        ("GET", f"{g}/hooks/{{hook_id:\\d+}}", api(get_hook)),
        ("PUT", f"{g}/hooks/{{hook_id:\\d+}}", api(edit_hook)),
        ("DELETE", f"{g}/hooks/{{hook_id:\\d+}}", api(delete_hook)),
        ("POST", f"{g}/hooks/{{hook_id:\\d+}}/test/{{trigger}}", api(test_hook)),
        ("GET", f"{g}/hooks/{{hook_id:\\d+}}/events", api(hook_events)),
    ]


def updated_between(q: Any, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """GitLab's `updated_after`/`updated_before`: updated on or after / on or before."""
    if q.get("updated_after"):
        after = _stamp(q["updated_after"])
        items = [i for i in items if _stamp(i["updated_at"]) >= after]
    if q.get("updated_before"):
        before = _stamp(q["updated_before"])
        items = [i for i in items if _stamp(i["updated_at"]) <= before]
    return items


def _stamp(value: str) -> datetime:
    text = value.strip().replace(" UTC", "Z").replace(" ", "T")
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _status_class(status: int | str) -> str:
    if isinstance(status, int) and 200 <= status < 300:
        return "successful"
    if isinstance(status, int) and 400 <= status < 500:
        return "client_failure"
    return "server_failure"


HOOK_FLAGS = (
    "issues_events",
    "confidential_issues_events",
    "releases_events",
    "milestone_events",
    "push_events",
    "merge_requests_events",
    "note_events",
    "pipeline_events",
    "enable_ssl_verification",
)


def new_hook(
    sim: Simulator,
    data: dict[str, Any],
    *,
    project: dict[str, Any] | None,
    group: dict[str, Any] | None,
) -> dict[str, Any]:
    hid = sim.state.new_id("hook")
    hook: dict[str, Any] = {
        "id": hid,
        "url": data["url"],
        "token": data.get("token"),
        "project_id": project["id"] if project else None,
        "group_id": group["id"] if group else None,
        "created_at": timestamp(datetime.now(UTC)),
        "alert_status": "executable",
        "disabled_until": None,
        "recent_failures": 0,
    }
    for flag in HOOK_FLAGS:
        default = flag in ("push_events", "enable_ssl_verification")
        hook[flag] = _bool(data[flag]) if flag in data else default
    sim.state.hooks[hid] = hook
    return hook


def hook_rest(hook: dict[str, Any]) -> dict[str, Any]:
    """A hook as GitLab returns it: never its token."""
    return {k: v for k, v in hook.items() if k != "token"}


def add_routes(app: web.Application, sim: Simulator) -> None:
    """Register every REST route; handlers run under the simulator's lock."""
    for method, path, handler in routes(sim):
        app.router.add_route(method, path, _locked(sim, handler))


def _locked(sim: Simulator, handler: Handler) -> Handler:
    async def run(request: web.Request) -> web.Response:
        if request.body_exists:
            await request.read()  # read before taking the lock: no await under it
        with sim.lock:
            return await handler(request)

    return run
