"""Project and group labels (doc/api/labels.md, doc/api/group_labels.md): list, get, create,
edit (rename, colour, description, priority) and delete."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from hooks.testing.sim_http import API, Api, ApiError, Handler, bad_request, body, flag, paginate
from hooks.testing.sim_shapes import text_color

if TYPE_CHECKING:
    from hooks.testing.sim_core import SimCore

EDITABLE = ("new_name", "color", "description", "priority")


def routes(sim: SimCore) -> list[tuple[str, str, Handler]]:
    s = sim.state
    api = Api(sim)

    def labels_for(request: web.Request) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        q = request.query
        if "project" in request.match_info:
            project = api.project_of(request)
            groups = set()
            if flag(q.get("include_ancestor_groups", "true")):
                groups = s.group_ids_of(project)
            found = [
                lbl
                for lbl in s.labels.values()
                if lbl["project_id"] == project["id"] or lbl["group_id"] in groups
            ]
            return found, project
        group = api.group_of(request)
        groups = {group["id"]}
        if flag(q.get("include_ancestor_groups", "true")):
            groups |= {g["id"] for g in s.ancestors(group)}
        if flag(q.get("include_descendant_groups")):
            groups |= {g["id"] for g in s.descendants(group)}
        return [lbl for lbl in s.labels.values() if lbl["group_id"] in groups], group

    async def list_labels(request: web.Request, uid: int) -> web.Response:
        found, owner = labels_for(request)
        if request.query.get("search"):
            term = request.query["search"].lower()
            found = [lbl for lbl in found if term in lbl["name"].lower()]
        found = sorted(found, key=lambda lbl: (lbl["name"].lower(), lbl["id"]))
        counts = flag(request.query.get("with_counts"))
        return paginate(request, [label_rest(sim, lbl, owner, counts=counts) for lbl in found])

    def label_of(
        request: web.Request, ref: str | None = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        found, owner = labels_for(request)
        ref = ref or request.match_info["label"]
        label = next((lbl for lbl in found if lbl["name"] == ref or str(lbl["id"]) == ref), None)
        if label is None:
            raise ApiError(404, {"message": "404 Label Not Found"})
        return label, owner

    async def get_label(request: web.Request, uid: int) -> web.Response:
        label, owner = label_of(request)
        return web.json_response(label_rest(sim, label, owner))

    def owns(owner: dict[str, Any], label: dict[str, Any]) -> bool:
        key = "project_id" if "namespace" in owner else "group_id"
        return bool(label[key] == owner["id"])

    def issues_with(label: dict[str, Any]) -> list[dict[str, Any]]:
        return [
            i
            for i in s.issues.values()
            if label["name"] in i["labels"]
            and s.label(label["name"], s.projects[i["project_id"]]) is label
        ]

    async def edit_label(request: web.Request, uid: int) -> web.Response:
        api.writable(uid)
        data = await body(request)
        ref = request.match_info.get("label")
        if ref is None:  # the older PUT .../labels, naming the label in the body (python-gitlab)
            ref = str(data.get("label_id") or data.get("name") or "")
            if not ref:
                raise bad_request(
                    "label_id, name are missing, exactly one parameter must be provided"
                )
        label, owner = label_of(request, ref)
        if not owns(owner, label):  # an ancestor group's label is edited there
            raise ApiError(404, {"message": "404 Label Not Found"})
        if not any(key in data for key in EDITABLE):
            missing = ", ".join(EDITABLE)
            raise bad_request(f"{missing} are missing, at least one parameter must be provided")
        if data.get("new_name") and data["new_name"] != label["name"]:
            for issue in issues_with(label):  # issues follow the label (they hold it by id)
                issue["labels"] = [
                    data["new_name"] if t == label["name"] else t for t in issue["labels"]
                ]
            label["name"] = data["new_name"]
        for key in ("color", "description"):
            if key in data:
                label[key] = data[key]
        if "priority" in data and "namespace" in owner:
            label["priority"] = (
                int(data["priority"]) if data["priority"] not in (None, "") else None
            )
        return web.json_response(label_rest(sim, label, owner))

    async def delete_label(request: web.Request, uid: int) -> web.Response:
        api.writable(uid)
        label, owner = label_of(request)
        if not owns(owner, label):
            raise ApiError(404, {"message": "404 Label Not Found"})
        for issue in issues_with(label):
            issue["labels"] = [t for t in issue["labels"] if t != label["name"]]
        del s.labels[label["id"]]
        return web.Response(status=204)

    async def create_label(request: web.Request, uid: int) -> web.Response:
        api.writable(uid)
        data = await body(request)
        existing, owner = labels_for(request)
        for name in ("name", "color"):
            if not data.get(name):
                raise bad_request(f"{name} is missing")
        if any(lbl["name"] == data["name"] for lbl in existing):
            raise ApiError(409, {"message": "Label already exists"})
        key = "project" if "namespace" in owner else "group"
        path = owner["path_with_namespace"] if key == "project" else owner["full_path"]
        spec = {key: path, "title": data["name"], "color": data["color"]}
        spec["description"] = data.get("description")
        spec["priority"] = data.get("priority")
        label = sim._add_label(spec)
        return web.json_response(label_rest(sim, label, owner), status=201)

    p = f"{API}/projects/{{project}}"
    g = f"{API}/groups/{{group}}"
    return [
        ("GET", f"{p}/labels", api.route(list_labels)),
        ("POST", f"{p}/labels", api.route(create_label)),
        ("GET", f"{p}/labels/{{label}}", api.route(get_label)),
        ("PUT", f"{p}/labels", api.route(edit_label)),
        ("PUT", f"{p}/labels/{{label}}", api.route(edit_label)),
        ("DELETE", f"{p}/labels/{{label}}", api.route(delete_label)),
        ("GET", f"{g}/labels", api.route(list_labels)),
        ("POST", f"{g}/labels", api.route(create_label)),
        ("GET", f"{g}/labels/{{label}}", api.route(get_label)),
        ("PUT", f"{g}/labels", api.route(edit_label)),
        ("PUT", f"{g}/labels/{{label}}", api.route(edit_label)),
        ("DELETE", f"{g}/labels/{{label}}", api.route(delete_label)),
    ]


def label_rest(
    sim: SimCore, label: dict[str, Any], owner: dict[str, Any], *, counts: bool = False
) -> dict[str, Any]:
    """A label as the labels API answers it (doc/api/labels.md, doc/api/group_labels.md):
    counts only with `with_counts=true`; `priority` and `is_project_label` for project labels."""
    s = sim.state
    rest: dict[str, Any] = {
        "id": label["id"],
        "name": label["name"],
        "description": label["description"],
        "description_html": label["description"] or "",
        "text_color": text_color(label["color"]),
        "color": label["color"],
        "subscribed": False,
    }
    if "namespace" in owner:
        rest["priority"] = label.get("priority")
        rest["is_project_label"] = label["project_id"] is not None
        projects = {owner["id"]}
    else:
        projects = {p["id"] for p in s.projects_under(owner)}
    if counts:
        on = [
            i
            for i in s.issues.values()
            if i["project_id"] in projects
            and label["name"] in i["labels"]
            and s.label(label["name"], s.projects[i["project_id"]]) is label
        ]
        rest["open_issues_count"] = sum(1 for i in on if i["state"] == "opened")
        rest["closed_issues_count"] = sum(1 for i in on if i["state"] == "closed")
        rest["open_merge_requests_count"] = 0
    return rest
