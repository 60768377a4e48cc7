"""Merge request notes (doc/api/notes.md "Merge requests"): list, get, create, edit, delete,
shaped as issue notes are, with `noteable_type: MergeRequest`. Quick actions are not run."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from hooks.testing.sim_http import API, Api, ApiError, Handler, bad_request, body, flag, paginate
from hooks.testing.sim_note_hooks import emit_note_hook
from hooks.testing.sim_notes import new_note
from hooks.testing.sim_state import timestamp

if TYPE_CHECKING:
    from hooks.testing.sim_core import SimCore


def routes(sim: SimCore) -> list[tuple[str, str, Handler]]:
    s = sim.state
    api = Api(sim)

    def mr_of(request: web.Request) -> dict[str, Any]:
        project = api.project_of(request)
        mr = s.merge_request(project["id"], int(request.match_info["iid"]))
        if mr is None:
            raise ApiError(404, {"message": "404 Not found"})
        return mr

    def note_of(request: web.Request) -> tuple[dict[str, Any], dict[str, Any]]:
        mr = mr_of(request)
        nid = int(request.match_info["note_id"])
        note = next((n for n in s.mr_notes[mr["id"]] if n["id"] == nid), None)
        if note is None:
            raise ApiError(404, {"message": "404 Note Not Found"})
        return mr, note

    async def notes(request: web.Request, uid: int) -> web.Response:
        q = request.query
        order = q.get("order_by", "created_at")
        if order not in ("created_at", "updated_at"):
            raise bad_request("order_by does not have a valid value")
        if q.get("sort", "desc") not in ("asc", "desc"):
            raise bad_request("sort does not have a valid value")
        found = sorted(
            s.mr_notes[mr_of(request)["id"]],
            key=lambda n: (n[order], n["id"]),
            reverse=q.get("sort", "desc") == "desc",
        )
        return paginate(request, found)

    async def get_note(request: web.Request, uid: int) -> web.Response:
        return web.json_response(note_of(request)[1])

    async def create_note(request: web.Request, uid: int) -> web.Response:
        api.writable(uid)
        data = await body(request)
        mr = mr_of(request)
        text = str(data.get("body") or "")
        if not text.strip():
            raise bad_request("body is missing")
        internal = flag(data.get("internal", data.get("confidential", False)))
        note = {**new_note(sim, mr, uid, text, internal), "noteable_type": "MergeRequest"}
        s.mr_notes[mr["id"]].append(note)
        emit_note_hook(sim, mr, note, "create", api.event_uuid(request), kind="MergeRequest")
        return web.json_response(note, status=201)

    async def edit_note(request: web.Request, uid: int) -> web.Response:
        api.writable(uid)
        data = await body(request)
        mr, note = note_of(request)
        edited = "body" in data and str(data["body"]) != note["body"]
        if "body" in data:
            if not str(data["body"]).strip():
                raise bad_request("body is empty")
            note["body"] = str(data["body"])
        note["updated_at"] = timestamp(sim.now())
        if edited:  # Notes::UpdateService sends the hook only when the text changed
            emit_note_hook(sim, mr, note, "update", api.event_uuid(request), kind="MergeRequest")
        return web.json_response(note)

    async def delete_note(request: web.Request, uid: int) -> web.Response:
        api.writable(uid)
        mr, note = note_of(request)
        s.mr_notes[mr["id"]].remove(note)
        return web.Response(status=204)

    p = f"{API}/projects/{{project}}/merge_requests/{{iid:\\d+}}/notes"
    return [
        ("GET", p, api.route(notes)),
        ("POST", p, api.route(create_note)),
        ("GET", f"{p}/{{note_id:\\d+}}", api.route(get_note)),
        ("PUT", f"{p}/{{note_id:\\d+}}", api.route(edit_note)),
        ("DELETE", f"{p}/{{note_id:\\d+}}", api.route(delete_note)),
    ]
