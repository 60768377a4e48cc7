"""Project and group milestones (doc/api/milestones.md, doc/api/group_milestones.md).

GitLab's semantics: a title is unique only within a project and its direct group (several
groups and projects may each have a `Sprint 3`); a project sees its own milestones and, with
`include_ancestors`, those of its ancestor groups; `/milestones/:id/issues` lists the parent's
issues whose milestone has that milestone's *title* (lib/api/milestone_responses.rb builds
`{milestone_title:, sort: 'label_priority'}` for IssuesFinder), so a same-titled milestone of
another owner inside the parent contributes its issues too, as in GitLab.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from aiohttp import web

from hooks.testing.sim_http import (
    API,
    Api,
    ApiError,
    Handler,
    bad_request,
    between,
    body,
    flag,
    paginate,
)
from hooks.testing.sim_state import timestamp

if TYPE_CHECKING:
    from hooks.testing.sim_core import SimCore


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


def title_taken(sim: SimCore, title: str, owner: dict[str, Any], *, skip: int = 0) -> bool:
    """Milestone#uniqueness_of_title: a project's title may not repeat one of the project or
    its direct group; a group's may not repeat one of the group or its direct projects."""
    s = sim.state
    if "namespace" in owner:
        projects, groups = {owner["id"]}, {owner["namespace"]["id"]}
    else:
        groups = {owner["id"]}
        projects = {p["id"] for p in s.projects.values() if p["namespace"]["id"] == owner["id"]}
    return any(
        m["title"] == title
        and m["id"] != skip
        and (m.get("project_id") in projects or m.get("group_id") in groups)
        for m in s.milestones.values()
    )


def _ordered(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # MilestonesFinder's default order: due date ascending (none last), then title.
    return sorted(items, key=lambda m: (m["due_date"] is None, m["due_date"] or "", m["title"]))


def routes(sim: SimCore) -> list[tuple[str, str, Handler]]:
    s = sim.state
    api = Api(sim)

    def filtered(request: web.Request, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        q = request.query
        state = q.get("state") or "all"
        if state not in ("active", "closed", "all"):
            raise bad_request("state does not have a valid value")
        if state != "all":
            items = [m for m in items if m["state"] == state]
        if q.get("title"):
            items = [m for m in items if m["title"] == q["title"]]
        if q.get("search"):
            term = q["search"].lower()
            items = [
                m
                for m in items
                if term in m["title"].lower() or term in (m["description"] or "").lower()
            ]
        if q.get("search_title"):
            items = [m for m in items if q["search_title"].lower() in m["title"].lower()]
        raw_iids = [*q.getall("iids[]", []), *q.get("iids", "").split(",")]
        if any(v.strip() for v in raw_iids) and not include_ancestors(request):
            # iids are per owner: GitLab ignores them when ancestors' milestones are included
            try:
                iids = {int(v) for v in raw_iids if v.strip()}
            except ValueError:
                raise bad_request("iids is invalid") from None
            items = [m for m in items if m["iid"] in iids]
        if q.get("containing_date"):
            day = q["containing_date"]
            items = [
                m
                for m in items
                if (m["start_date"] or "") <= day
                and (m["due_date"] is None or day <= m["due_date"])
            ]
        items = between(q, items, "updated_at")
        return [sim.milestone_rest(m) for m in _ordered(items)]

    def include_ancestors(request: web.Request) -> bool:
        q = request.query
        if "include_ancestors" in q and "include_parent_milestones" in q:
            raise bad_request("include_ancestors, include_parent_milestones are mutually exclusive")
        return flag(q.get("include_ancestors") or q.get("include_parent_milestones"))

    async def project_milestones(request: web.Request, uid: int) -> web.Response:
        project = api.project_of(request)
        if include_ancestors(request):
            found = s.milestones_of(project)
        else:
            found = [m for m in s.milestones.values() if m.get("project_id") == project["id"]]
        return paginate(request, filtered(request, found))

    async def group_milestones(request: web.Request, uid: int) -> web.Response:
        group = api.group_of(request)
        groups = {group["id"]}
        if include_ancestors(request):
            groups |= {g["id"] for g in s.ancestors(group)}
        if flag(request.query.get("include_descendants")):
            groups |= {g["id"] for g in s.descendants(group)}
            inside = {p["id"] for p in s.projects_under(group)}
        else:
            inside = set()
        found = [
            m
            for m in s.milestones.values()
            if m.get("group_id") in groups or m.get("project_id") in inside
        ]
        return paginate(request, filtered(request, found))

    def owner_of(request: web.Request) -> dict[str, Any]:
        if "project" in request.match_info:
            return api.project_of(request)
        return api.group_of(request)

    def milestone_of(request: web.Request) -> dict[str, Any]:
        owner = owner_of(request)
        m = s.milestones.get(int(request.match_info["mid"]))
        key = "project_id" if "namespace" in owner else "group_id"
        if m is None or m.get(key) != owner["id"]:
            raise ApiError(404, {"message": "404 Milestone Not Found"})
        return m

    async def get_milestone(request: web.Request, uid: int) -> web.Response:
        return web.json_response(sim.milestone_rest(milestone_of(request)))

    def refuse_taken(title: str, owner: dict[str, Any], verb: str, skip: int = 0) -> None:
        # lib/api/milestone_responses.rb: "Failed to create milestone #{errors.messages}"
        if title_taken(sim, title, owner, skip=skip):
            errors = '{:title=>["already being used for another group or project milestone."]}'
            raise ApiError(400, {"message": f"Failed to {verb} milestone {errors}"})

    async def create_milestone(request: web.Request, uid: int) -> web.Response:
        api.writable(uid)
        data = await body(request)
        owner = owner_of(request)
        if not data.get("title"):
            raise bad_request("title is missing")
        refuse_taken(data["title"], owner, "create")
        key = ("project", owner["path_with_namespace"]) if "namespace" in owner else None
        m = sim._add_milestone(
            {
                **(dict([key]) if key else {"group": owner["full_path"]}),
                "title": data["title"],
                "description": data.get("description", ""),
                "start_date": data.get("start_date"),
                "due_date": data.get("due_date"),
            },
            sim.today,
        )
        sim.milestone_hook(m, "create", api.event_uuid(request))
        return web.json_response(sim.milestone_rest(m), status=201)

    async def edit_milestone(request: web.Request, uid: int) -> web.Response:
        api.writable(uid)
        m = milestone_of(request)
        data = await body(request)
        editable = ("title", "description", "start_date", "due_date", "state_event")
        if not any(key in data for key in editable):
            raise bad_request(
                f"{', '.join(editable)} are missing, at least one parameter must be provided"
            )
        if data.get("title") and data["title"] != m["title"]:
            refuse_taken(data["title"], owner_of(request), "update", m["id"])
        event = data.get("state_event")
        if event not in (None, "", "close", "activate"):
            raise bad_request("state_event does not have a valid value")
        for key in ("title", "description", "start_date", "due_date"):
            if key in data:
                m[key] = data[key] or (None if key.endswith("date") else "")
        action = None
        if event == "close" and m["state"] != "closed":
            m["state"], action = "closed", "close"
        elif event == "activate" and m["state"] != "active":
            m["state"], action = "active", "reopen"
        m["updated_at"] = timestamp(sim.now())
        if action:
            sim.milestone_hook(m, action, api.event_uuid(request))
        return web.json_response(sim.milestone_rest(m))

    async def delete_milestone(request: web.Request, uid: int) -> web.Response:
        api.writable(uid)
        m = milestone_of(request)
        for issue in s.issues.values():
            if issue["milestone_id"] == m["id"]:
                issue["milestone_id"] = None
        del s.milestones[m["id"]]
        sim.milestone_hook(m, "delete", api.event_uuid(request))
        return web.Response(status=204)

    async def milestone_issues(request: web.Request, uid: int) -> web.Response:
        owner = owner_of(request)
        m = milestone_of(request)
        if "namespace" in owner:
            projects = {owner["id"]}
        else:  # IssuesFinder with group_id and no include_subgroups: the group's own projects
            projects = {p["id"] for p in s.projects.values() if p["namespace"]["id"] == owner["id"]}
        found = [
            i
            for i in s.issues.values()
            if i["project_id"] in projects
            and i["milestone_id"] in s.milestones
            and s.milestones[i["milestone_id"]]["title"] == m["title"]
        ]
        found.sort(key=lambda i: (_label_priority(sim, i), -i["id"]))
        return paginate(request, found, shape=lambda i: sim.issue_rest(i, scope=owner, basic=True))

    async def milestone_merge_requests(request: web.Request, uid: int) -> web.Response:
        milestone_of(request)
        return paginate(request, [])  # the simulator has no merge requests

    p = f"{API}/projects/{{project}}/milestones"
    g = f"{API}/groups/{{group}}/milestones"
    return [
        ("GET", p, api.route(project_milestones)),
        ("POST", p, api.route(create_milestone)),
        ("GET", f"{p}/{{mid:\\d+}}", api.route(get_milestone)),
        ("PUT", f"{p}/{{mid:\\d+}}", api.route(edit_milestone)),
        ("DELETE", f"{p}/{{mid:\\d+}}", api.route(delete_milestone)),
        ("GET", f"{p}/{{mid:\\d+}}/issues", api.route(milestone_issues)),
        ("GET", f"{p}/{{mid:\\d+}}/merge_requests", api.route(milestone_merge_requests)),
        ("GET", g, api.route(group_milestones)),
        ("POST", g, api.route(create_milestone)),
        ("GET", f"{g}/{{mid:\\d+}}", api.route(get_milestone)),
        ("PUT", f"{g}/{{mid:\\d+}}", api.route(edit_milestone)),
        ("DELETE", f"{g}/{{mid:\\d+}}", api.route(delete_milestone)),
        ("GET", f"{g}/{{mid:\\d+}}/issues", api.route(milestone_issues)),
        ("GET", f"{g}/{{mid:\\d+}}/merge_requests", api.route(milestone_merge_requests)),
    ]


def _label_priority(sim: SimCore, issue: dict[str, Any]) -> float:
    """GitLab's `label_priority` sort: the issue's highest-priority label first, none last."""
    project = sim.state.projects[issue["project_id"]]
    priorities = [
        label["priority"]
        for t in issue["labels"]
        if (label := sim.state.label(t, project)) and label.get("priority") is not None
    ]
    return float(min(priorities)) if priorities else float("inf")
