"""The REST API subset under /api/v4 that is not issues, notes, milestones, releases, hooks or
labels:
users, projects, groups and iterations, with GitLab's field names, statuses and
pagination. `add_routes` registers every REST module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from hooks.testing import (
    sim_awards,
    sim_commit_statuses,
    sim_commits,
    sim_hooks,
    sim_issues,
    sim_labels,
    sim_members,
    sim_merge_requests,
    sim_milestones,
    sim_mr_notes,
    sim_notes,
    sim_releases,
    sim_repository,
    sim_tokens,
)
from hooks.testing.sim_http import (
    API,
    Api,
    Handler,
    bad_request,
    between,
    flag,
    paginate,
    register,
)
from hooks.testing.sim_state import BASE_URL

if TYPE_CHECKING:
    from hooks.testing.sim_core import SimCore

ITERATION_STATES = {1: "upcoming", 2: "current", 3: "closed"}


def routes(sim: SimCore) -> list[tuple[str, str, Handler]]:
    s = sim.state
    api = Api(sim)

    async def current_user(request: web.Request, uid: int) -> web.Response:
        return web.json_response({**(sim.user_rest(uid) or {}), "is_admin": False, "bot": uid == 1})

    async def version(request: web.Request, uid: int) -> web.Response:
        return web.json_response({"version": "18.5.0-sim", "revision": "sim"})

    async def users(request: web.Request, uid: int) -> web.Response:
        name = request.query.get("username")
        found = [u for u in s.users.values() if name is None or u["username"] == name]
        return paginate(request, [sim.user_rest(u["id"]) for u in found])

    # projects and groups -----------------------------------------------------------

    async def get_project(request: web.Request, uid: int) -> web.Response:
        return web.json_response(project_rest(sim, api.project_of(request)))

    async def list_projects(request: web.Request, uid: int) -> web.Response:
        q = request.query
        found = list(s.projects.values())
        if q.get("search"):
            term = q["search"].lower()
            found = [p for p in found if term in p["path_with_namespace"].lower()]
        if q.get("visibility"):
            found = [p for p in found if p["visibility"] == q["visibility"]]
        if flag(q.get("archived")):  # no simulated project is archived
            found = []
        if flag(q.get("owned")) or flag(q.get("starred")):  # nobody owns or stars a project
            found = []
        order = q.get("order_by", "created_at")
        if order not in ("id", "name", "path", "created_at", "updated_at", "last_activity_at"):
            raise bad_request("order_by does not have a valid value")
        key = "id" if order in ("created_at", "updated_at", "last_activity_at") else order
        found.sort(key=lambda p: (p[key], p["id"]), reverse=q.get("sort", "desc") == "desc")
        simple = flag(q.get("simple"))
        answer = [p if simple else project_rest(sim, p) for p in found]
        return paginate(request, answer, keyset=True)

    async def get_group(request: web.Request, uid: int) -> web.Response:
        # "Get a single group": the group, its own projects (unless with_projects=false) and
        # the projects shared with it (none in the simulator).
        group = api.group_of(request)
        answer = {**group, "shared_projects": []}
        if flag(request.query.get("with_projects", "true")):
            answer["projects"] = [
                project_rest(sim, p)
                for p in s.projects.values()
                if p["namespace"]["id"] == group["id"]
            ]
        return web.json_response(answer)

    def group_listing(request: web.Request, found: list[dict[str, Any]]) -> web.Response:
        q = request.query
        if q.get("search"):
            term = q["search"].lower()
            found = [g for g in found if term in g["name"].lower() or term in g["path"].lower()]
        if flag(q.get("top_level_only")):
            found = [g for g in found if not g["parent_id"]]
        if q.get("skip_groups[]"):
            skipped = {int(v) for v in q.getall("skip_groups[]")}
            found = [g for g in found if g["id"] not in skipped]
        order = q.get("order_by", "name")
        if order not in ("name", "path", "id", "similarity"):
            raise bad_request("order_by does not have a valid value")
        key = "name" if order == "similarity" else order
        found = sorted(found, key=lambda g: (g[key], g["id"]), reverse=q.get("sort") == "desc")
        return paginate(request, found)

    async def list_groups(request: web.Request, uid: int) -> web.Response:
        return group_listing(request, list(s.groups.values()))

    async def subgroups(request: web.Request, uid: int) -> web.Response:
        group = api.group_of(request)
        return group_listing(
            request, [g for g in s.groups.values() if g["parent_id"] == group["id"]]
        )

    # iterations --------------------------------------------------------------------

    async def iterations(request: web.Request, uid: int) -> web.Response:
        q = request.query
        if "project" in request.match_info:
            start = s.project_group(api.project_of(request))
        else:
            start = api.group_of(request)
        groups = {start["id"]} if start else set()
        if start and flag(q.get("include_ancestors", "true")):
            groups |= {g["id"] for g in s.ancestors(start)}
        if start and flag(q.get("include_descendants")):
            groups |= {g["id"] for g in s.descendants(start)}
        found = [iteration_rest(sim, i) for i in s.iterations.values() if i["group_id"] in groups]
        state = q.get("state", "all")
        wanted = {
            "opened": {"upcoming", "current"},
            "upcoming": {"upcoming"},
            "current": {"current"},
            "started": {"current"},  # deprecated name of `current`
            "closed": {"closed"},
            "all": {"upcoming", "current", "closed"},
        }.get(state)
        if wanted is None:
            raise bad_request("state does not have a valid value")
        found = [i for i in found if ITERATION_STATES[i["state"]] in wanted]
        if q.get("search"):
            where = q.getall("in[]", []) or q.get("in", "title").split(",")
            if not set(where) <= {"title", "cadence_title"}:
                raise bad_request("in does not have a valid value")
            term = q["search"].lower()
            found = [i for i in found if "title" in where and term in i["title"].lower()]
        found = between(q, found, "updated_at")
        return paginate(request, sorted(found, key=lambda i: (i["due_date"] or "", i["id"])))

    p = f"{API}/projects/{{project}}"
    g = f"{API}/groups/{{group}}"
    return [
        ("GET", f"{API}/user", api.route(current_user)),
        ("GET", f"{API}/version", api.route(version)),
        ("GET", f"{API}/users", api.route(users)),
        ("GET", f"{API}/projects", api.route(list_projects)),
        ("GET", p, api.route(get_project)),
        ("GET", f"{API}/groups", api.route(list_groups)),
        ("GET", g, api.route(get_group)),
        ("GET", f"{g}/subgroups", api.route(subgroups)),
        ("GET", f"{p}/iterations", api.route(iterations)),
        ("GET", f"{g}/iterations", api.route(iterations)),
    ]


def project_rest(sim: SimCore, project: dict[str, Any]) -> dict[str, Any]:
    """A project as GET /projects/:id answers it: the simple fields and more."""
    api = f"{BASE_URL}/api/v4/projects/{project['id']}"
    issues = [i for i in sim.state.issues.values() if i["project_id"] == project["id"]]
    return {
        **project,
        "archived": False,
        "empty_repo": not sim.state.repo(project).commits,
        "issues_enabled": True,
        "open_issues_count": sum(1 for i in issues if i["state"] == "opened"),
        "merge_requests_enabled": True,
        "wiki_enabled": True,
        "jobs_enabled": True,
        "creator_id": 1,
        "_links": {
            "self": api,
            "issues": f"{api}/issues",
            "merge_requests": f"{api}/merge_requests",
            "repo_branches": f"{api}/repository/branches",
            "labels": f"{api}/labels",
            "events": f"{api}/events",
            "members": f"{api}/members",
            "cluster_agents": f"{api}/cluster_agents",
        },
    }


def iteration_rest(sim: SimCore, iteration: dict[str, Any]) -> dict[str, Any]:
    """An iteration with GitLab's state number from its dates: 1 upcoming, 2 current, 3 closed."""
    today = sim.today.isoformat()
    if iteration["due_date"] and iteration["due_date"] < today:
        state = 3
    elif iteration["start_date"] and iteration["start_date"] > today:
        state = 1
    else:
        state = 2
    shown = {k: v for k, v in iteration.items() if k != "cadence_id"}  # REST does not name it
    return {**shown, "state": state}


def add_routes(app: web.Application, sim: SimCore) -> None:
    """Register every REST route; handlers run under the simulator's lock."""
    for module in (
        sim_issues,
        sim_notes,
        sim_awards,
        sim_milestones,
        sim_releases,
        sim_hooks,
        sim_labels,
        sim_members,
        sim_tokens,
        sim_repository,
        sim_commits,
        sim_commit_statuses,
        sim_merge_requests,
        sim_mr_notes,
    ):
        register(app, sim, module.routes(sim))
    register(app, sim, routes(sim))
