"""Releases (doc/api/releases/index.md) and the Release Hook GitLab sends when one is created,
updated or deleted (webhook_events.md "Release events"; Gitlab::HookData::ReleaseBuilder).

The simulator has no repository: every tag exists, and a release's commit is made up from
its tag.
"""

from __future__ import annotations

import hashlib
from html import escape
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from aiohttp import web

from hooks.testing.sim_hook_payloads import hook_time
from hooks.testing.sim_http import (
    API,
    Api,
    ApiError,
    Handler,
    bad_request,
    body,
    flag,
    ordering,
    paginate,
)
from hooks.testing.sim_state import timestamp

if TYPE_CHECKING:
    from hooks.testing.sim_core import SimCore


def add_release(
    sim: SimCore, project: dict[str, Any], spec: dict[str, Any], author_id: int = 1
) -> dict[str, Any]:
    """Store a release (seed or API); `spec` has tag_name, name, description, milestones
    (titles), released_at."""
    now = timestamp(sim.now())
    release = {
        "id": sim.state.new_id("release"),
        "project_id": project["id"],
        "tag_name": spec["tag_name"],
        "name": spec.get("name") or spec["tag_name"],
        "description": spec.get("description") or "",
        "created_at": now,
        "released_at": spec.get("released_at") or now,
        "author_id": author_id,
        "milestone_ids": milestone_ids(sim, project, spec.get("milestones") or []),
    }
    sim.state.releases[(project["id"], release["tag_name"])] = release
    return release


def milestone_ids(sim: SimCore, project: dict[str, Any], titles: list[str]) -> list[int]:
    """The ids of the project's (or its groups') milestones with these titles; 400 if one is
    not found, as GitLab answers."""
    found: list[int] = []
    for title in titles:
        m = sim._milestone_by_title(project, title)
        if m is None:
            raise ApiError(400, {"message": f"Milestone(s) not found: {title}"})
        found.append(m["id"])
    return found


def _commit(project: dict[str, Any], release: dict[str, Any]) -> dict[str, Any]:
    sha = hashlib.sha1(f"{project['id']}:{release['tag_name']}".encode()).hexdigest()
    return {"id": sha, "short_id": sha[:8], "title": f"Release {release['tag_name']}"}


def release_rest(sim: SimCore, release: dict[str, Any], *, html: bool = False) -> dict[str, Any]:
    """A release as GET /projects/:id/releases/:tag_name answers it; `html` adds the
    description rendered (as include_html_description asks; here: escaped text)."""
    s = sim.state
    project = s.projects[release["project_id"]]
    web_url = project["web_url"]
    tag = release["tag_name"]
    commit = _commit(project, release)
    milestones = []
    for mid in release["milestone_ids"]:
        if mid in s.milestones:
            issues = [i for i in s.issues.values() if i["milestone_id"] == mid]
            closed = sum(1 for i in issues if i["state"] == "closed")
            stats = {"total": len(issues), "closed": closed}
            milestones.append({**sim.milestone_rest(s.milestones[mid]), "issue_stats": stats})
    sources = [
        {"format": fmt, "url": f"{web_url}/-/archive/{tag}/{project['path']}-{tag}.{fmt}"}
        for fmt in ("zip", "tar.gz", "tar.bz2", "tar")
    ]
    query = f"release_tag={quote(tag)}&scope=all"
    rest: dict[str, Any] = {
        "tag_name": tag,
        "description": release["description"],
        "name": release["name"],
        "created_at": release["created_at"],
        "released_at": release["released_at"],
        "upcoming_release": release["released_at"] > timestamp(sim.now()),
        "author": sim.user_rest(release["author_id"]),
        "commit": {
            **commit,
            "created_at": release["created_at"],
            "parent_ids": [],
            "message": commit["title"],
            "author_name": "Simulator",
            "author_email": "sim@gitlab.sim",
            "authored_date": release["created_at"],
            "committer_name": "Simulator",
            "committer_email": "sim@gitlab.sim",
            "committed_date": release["created_at"],
        },
        "milestones": milestones,
        "commit_path": f"/{project['path_with_namespace']}/-/commit/{commit['id']}",
        "tag_path": f"/{project['path_with_namespace']}/-/tags/{tag}",
        "assets": {
            "count": len(sources),
            "sources": sources,
            "links": [],
            "evidence_file_path": f"{web_url}/-/releases/{quote(tag)}/evidence.json",
        },
        "evidences": [],
        "_links": {
            "closed_issues_url": f"{web_url}/-/issues?{query}&state=closed",
            "closed_merge_requests_url": f"{web_url}/-/merge_requests?{query}&state=closed",
            "edit_url": f"{web_url}/-/releases/{quote(tag)}/edit",
            "merged_merge_requests_url": f"{web_url}/-/merge_requests?{query}&state=merged",
            "opened_issues_url": f"{web_url}/-/issues?{query}&state=opened",
            "opened_merge_requests_url": f"{web_url}/-/merge_requests?{query}&state=opened",
            "self": f"{web_url}/-/releases/{quote(tag)}",
        },
    }
    if html:
        rest["description_html"] = f"<p>{escape(release['description'])}</p>"
    return rest


def release_hook(sim: SimCore, release: dict[str, Any], action: str, uuid: str | None) -> None:
    """The Release Hook GitLab sends to the project's hooks and its groups' hooks."""
    project = sim.state.projects[release["project_id"]]
    payload = release_hook_payload(sim, release, action)
    sim.webhooks.emit(sim.hooks_for(project), "Release Hook", payload, uuid)


def release_hook_payload(sim: SimCore, release: dict[str, Any], action: str) -> dict[str, Any]:
    """A Release Hook's body (webhook_events.md "Release events")."""
    project = sim.state.projects[release["project_id"]]
    rest = release_rest(sim, release)
    commit = _commit(project, release)
    payload = {
        "id": release["id"],
        "created_at": hook_time(release["created_at"]),
        "description": release["description"],
        "name": release["name"],
        "released_at": hook_time(release["released_at"]),
        "tag": release["tag_name"],
        "object_kind": "release",
        "project": sim.project_hook_payload(project),
        "url": rest["_links"]["self"],
        "action": action,
        "assets": {
            "count": rest["assets"]["count"],
            "links": [],
            "sources": rest["assets"]["sources"],
        },
        "commit": {
            "id": commit["id"],
            "message": commit["title"],
            "title": commit["title"],
            "timestamp": release["created_at"][:19] + "+00:00",
            "url": f"{project['web_url']}/-/commit/{commit['id']}",
            "author": {"name": "Simulator", "email": "sim@gitlab.sim"},
        },
    }
    return payload


def routes(sim: SimCore) -> list[tuple[str, str, Handler]]:
    s = sim.state
    api = Api(sim)

    def release_of(request: web.Request) -> dict[str, Any]:
        project = api.project_of(request)
        release = s.releases.get((project["id"], request.match_info["tag"]))
        if release is None:
            raise ApiError(404, {"message": "404 Not Found"})
        return release

    async def releases(request: web.Request, uid: int) -> web.Response:
        q = request.query
        pid = api.project_of(request)["id"]
        order, desc = ordering(q, ("released_at", "created_at"))
        found = sorted(
            (r for (p, _t), r in s.releases.items() if p == pid),
            key=lambda r: (r[order], r["id"]),
            reverse=desc,
        )
        html = flag(q.get("include_html_description"))
        return paginate(request, [release_rest(sim, r, html=html) for r in found])

    async def get_release(request: web.Request, uid: int) -> web.Response:
        html = flag(request.query.get("include_html_description"))
        return web.json_response(release_rest(sim, release_of(request), html=html))

    async def create_release(request: web.Request, uid: int) -> web.Response:
        api.writable(uid)
        project = api.project_of(request)
        data = await body(request)
        if not data.get("tag_name"):
            raise bad_request("tag_name is missing")
        if (project["id"], data["tag_name"]) in s.releases:
            raise ApiError(409, {"message": "Release already exists"})
        spec = {**data, "milestones": _titles(data)}
        release = add_release(sim, project, spec, author_id=uid)
        release_hook(sim, release, "create", api.event_uuid(request))
        return web.json_response(release_rest(sim, release), status=201)

    async def edit_release(request: web.Request, uid: int) -> web.Response:
        api.writable(uid)
        release = release_of(request)
        data = await body(request)
        project = s.projects[release["project_id"]]
        for key in ("name", "description", "released_at"):
            if key in data:
                release[key] = data[key] or ("" if key != "released_at" else release[key])
        if "milestones" in data or "milestones[]" in data:
            release["milestone_ids"] = milestone_ids(sim, project, _titles(data))
        release_hook(sim, release, "update", api.event_uuid(request))
        return web.json_response(release_rest(sim, release))

    async def delete_release(request: web.Request, uid: int) -> web.Response:
        api.writable(uid)
        release = release_of(request)
        answer = release_rest(sim, release)
        del s.releases[(release["project_id"], release["tag_name"])]
        release_hook(sim, release, "delete", api.event_uuid(request))
        return web.json_response(answer)

    p = f"{API}/projects/{{project}}/releases"
    return [
        ("GET", p, api.route(releases)),
        ("POST", p, api.route(create_release)),
        ("GET", f"{p}/{{tag}}", api.route(get_release)),
        ("PUT", f"{p}/{{tag}}", api.route(edit_release)),
        ("DELETE", f"{p}/{{tag}}", api.route(delete_release)),
    ]


def _titles(data: dict[str, Any]) -> list[str]:
    value = data.get("milestones", data.get("milestones[]"))
    if value in (None, ""):
        return []
    if isinstance(value, list):
        return [str(v) for v in value]
    return [str(value)]
