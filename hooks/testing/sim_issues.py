"""Issues (doc/api/issues.md), their label events and their links (doc/api/issue_links.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from hooks.testing.sim_http import (
    API,
    Api,
    ApiError,
    Handler,
    bad_request,
    body,
    flag,
    ids,
    label_names,
    paginate,
)
from hooks.testing.sim_issue_filters import IssueFilter
from hooks.testing.sim_state import timestamp

if TYPE_CHECKING:
    from hooks.testing.sim_core import SimCore

LINK_TYPES = ("relates_to", "blocks", "is_blocked_by")


ISSUE_TYPES = ("issue", "incident", "test_case", "task")


def routes(sim: SimCore) -> list[tuple[str, str, Handler]]:
    s = sim.state
    api = Api(sim)

    def listing(
        request: web.Request,
        uid: int,
        issues: list[dict[str, Any]],
        scope: dict[str, Any] | None = None,
        default_scope: str = "all",
    ) -> web.Response:
        found = IssueFilter(sim, uid).apply(request.query, issues, default_scope=default_scope)
        details = flag(request.query.get("with_labels_details"))

        def shape(issue: dict[str, Any]) -> dict[str, Any]:
            return sim.issue_rest(issue, scope=scope, label_details=details)

        return paginate(request, found, shape=shape)

    async def project_issues(request: web.Request, uid: int) -> web.Response:
        project = api.project_of(request)
        mine = [i for i in s.issues.values() if i["project_id"] == project["id"]]
        return listing(request, uid, mine, scope=project)

    async def group_issues(request: web.Request, uid: int) -> web.Response:
        group = api.group_of(request)
        inside = {p["id"] for p in s.projects_under(group)}  # subgroups' projects too
        mine = [i for i in s.issues.values() if i["project_id"] in inside]
        return listing(request, uid, mine, scope=group)

    async def all_issues(request: web.Request, uid: int) -> web.Response:
        # GET /issues: only the caller's own issues unless scope says otherwise.
        return listing(request, uid, list(s.issues.values()), default_scope="created_by_me")

    async def get_issue(request: web.Request, uid: int) -> web.Response:
        return web.json_response(single(api.issue_of(request), uid))

    def single(issue: dict[str, Any], uid: int) -> dict[str, Any]:
        """One issue as GET, POST and PUT answer it: with `subscribed` (lists leave it out).
        Participants are subscribed: the author, the assignees and whoever commented."""
        rest = sim.issue_rest(issue, scope=s.projects[issue["project_id"]])
        commenters = {n["author"]["id"] for n in s.notes.get(issue["id"], []) if n["author"]}
        participants = {issue["author_id"], *issue["assignee_ids"], *commenters}
        return {**rest, "subscribed": uid in participants}

    def milestone_for(project: dict[str, Any], value: Any) -> int | None:
        # Issues::BaseService#filter_milestone: a milestone that is not the project's or its
        # groups' is dropped (the issue gets none), not refused.
        try:
            mid = int(value) if value not in (None, "", "0", 0) else None
        except ValueError:
            raise bad_request("milestone_id is invalid") from None
        available = {m["id"] for m in s.milestones_of(project)}
        return mid if mid in available else None

    async def create_issue(request: web.Request, uid: int) -> web.Response:
        api.writable(uid)
        project = api.project_of(request)
        data = await body(request)
        if not data.get("title"):
            raise bad_request("title is missing")
        fields = {
            "title": data["title"],
            "description": data.get("description", ""),
            "labels": label_names(data.get("labels")),
            "milestone_id": milestone_for(project, data.get("milestone_id")),
            "assignee_ids": ids(data.get("assignee_ids")),
            "due_date": data.get("due_date") or None,
            "confidential": flag(data.get("confidential")),
            "issue_type": data.get("issue_type") or "issue",
        }
        if fields["issue_type"] not in ISSUE_TYPES:
            raise bad_request("issue_type does not have a valid value")
        issue = sim.create_issue(project, fields, author_id=uid, event_uuid=api.event_uuid(request))
        return web.json_response(single(issue, uid), status=201)

    async def edit_issue(request: web.Request, uid: int) -> web.Response:
        api.writable(uid)
        issue = api.issue_of(request)
        project = s.projects[issue["project_id"]]
        data = await body(request)
        changes: dict[str, Any] = {}
        labels = list(issue["labels"])
        if "labels" in data:
            labels = label_names(data["labels"])
        labels += [lbl for lbl in label_names(data.get("add_labels")) if lbl not in labels]
        removed = set(label_names(data.get("remove_labels")))
        labels = [lbl for lbl in labels if lbl not in removed]
        if labels != issue["labels"]:
            changes["labels"] = labels
        if "milestone_id" in data:
            changes["milestone_id"] = milestone_for(project, data["milestone_id"])
        if "assignee_ids" in data:
            changes["assignee_ids"] = ids(data["assignee_ids"])
        for key in ("title", "description", "due_date"):
            if key in data:
                changes[key] = data[key] or (None if key == "due_date" else "")
        if "confidential" in data:
            changes["confidential"] = flag(data["confidential"])
        event = data.get("state_event")
        if event == "close":
            changes["state"] = "closed"
        elif event == "reopen":
            changes["state"] = "opened"
        elif event:
            raise bad_request("state_event does not have a valid value")
        sim.update_issue(issue, changes, actor_id=uid, event_uuid=api.event_uuid(request))
        return web.json_response(single(issue, uid))

    async def delete_issue(request: web.Request, uid: int) -> web.Response:
        api.writable(uid)
        issue = api.issue_of(request)
        del s.issues[issue["id"]]
        del s.by_iid[(issue["project_id"], issue["iid"])]
        s.notes.pop(issue["id"], None)
        s.label_events.pop(issue["id"], None)
        s.links[:] = [k for k in s.links if issue["id"] not in (k["source"], k["target"])]
        return web.Response(status=204)

    async def label_events(request: web.Request, uid: int) -> web.Response:
        return paginate(request, s.label_events.get(api.issue_of(request)["id"], []))

    # links -------------------------------------------------------------------------

    def link_of(request: web.Request) -> tuple[dict[str, Any], dict[str, Any]]:
        issue = api.issue_of(request)
        lid = int(request.match_info["link_id"])
        link = next((k for k in s.links if k["id"] == lid), None)
        if link is None or issue["id"] not in (link["source"], link["target"]):
            raise ApiError(404, {"message": "404 Not found"})
        return issue, link

    def link_answer(link: dict[str, Any]) -> dict[str, Any]:
        return {
            "source_issue": sim.issue_rest(s.issues[link["source"]], basic=True),
            "target_issue": sim.issue_rest(s.issues[link["target"]], basic=True),
            "link_type": link["link_type"],
        }

    async def list_links(request: web.Request, uid: int) -> web.Response:
        issue = api.issue_of(request)
        out = []
        for link in sorted(s.links, key=lambda k: k["id"]):
            if issue["id"] not in (link["source"], link["target"]):
                continue
            outgoing = link["source"] == issue["id"]
            other = s.issues[link["target"] if outgoing else link["source"]]
            link_type = link["link_type"]
            if not outgoing and link_type != "relates_to":  # seen from the other side
                link_type = "is_blocked_by" if link_type == "blocks" else "blocks"
            out.append(
                {
                    **sim.issue_rest(other),
                    "issue_link_id": link["id"],
                    "link_type": link_type,
                    "link_created_at": link["created_at"],
                    "link_updated_at": link["created_at"],
                }
            )
        return web.json_response(out)

    async def get_link(request: web.Request, uid: int) -> web.Response:
        return web.json_response(link_answer(link_of(request)[1]))

    async def create_link(request: web.Request, uid: int) -> web.Response:
        api.writable(uid)
        issue = api.issue_of(request)
        data = await body(request)
        for name in ("target_project_id", "target_issue_iid"):
            if data.get(name) in (None, ""):
                raise bad_request(f"{name} is missing")
        target_project = s.project(str(data["target_project_id"]))
        if target_project is None:
            raise ApiError(404, {"message": "404 Project Not Found"})
        iid = str(data["target_issue_iid"])
        target = s.issue(target_project["id"], int(iid)) if iid.isdigit() else None
        if target is None:
            raise ApiError(404, {"message": "404 Not found"})
        link_type = data.get("link_type") or "relates_to"
        if link_type not in LINK_TYPES:
            raise bad_request("link_type does not have a valid value")
        for link in s.links:
            if {link["source"], link["target"]} == {issue["id"], target["id"]}:
                raise ApiError(409, {"message": "Issue(s) already assigned"})
        link = {
            "id": s.new_id("link"),
            "source": issue["id"],
            "target": target["id"],
            "link_type": link_type,
            "created_at": timestamp(sim.now()),
        }
        s.links.append(link)
        return web.json_response(link_answer(link), status=201)

    async def delete_link(request: web.Request, uid: int) -> web.Response:
        api.writable(uid)
        _issue, link = link_of(request)
        answer = link_answer(link)
        s.links.remove(link)
        return web.json_response(answer)

    p = f"{API}/projects/{{project}}/issues"
    one = f"{p}/{{iid:\\d+}}"
    return [
        ("GET", f"{API}/issues", api.route(all_issues)),
        ("GET", p, api.route(project_issues)),
        ("POST", p, api.route(create_issue)),
        ("GET", f"{API}/groups/{{group}}/issues", api.route(group_issues)),
        ("GET", one, api.route(get_issue)),
        ("PUT", one, api.route(edit_issue)),
        ("DELETE", one, api.route(delete_issue)),
        ("GET", f"{one}/resource_label_events", api.route(label_events)),
        ("GET", f"{one}/links", api.route(list_links)),
        ("POST", f"{one}/links", api.route(create_link)),
        ("GET", f"{one}/links/{{link_id:\\d+}}", api.route(get_link)),
        ("DELETE", f"{one}/links/{{link_id:\\d+}}", api.route(delete_link)),
    ]
