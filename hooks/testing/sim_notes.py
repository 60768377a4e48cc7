"""Issue notes (doc/api/notes.md): list, get, create (with quick actions), edit, delete."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from hooks.testing.sim_commands import quick_actions
from hooks.testing.sim_http import API, Api, ApiError, Handler, bad_request, body, flag, paginate
from hooks.testing.sim_note_hooks import emit_note_hook
from hooks.testing.sim_state import timestamp

if TYPE_CHECKING:
    from hooks.testing.sim_core import SimCore


def new_note(sim: SimCore, issue: dict[str, Any], uid: int, text: str, internal: bool) -> Any:
    """A user's note as GitLab stores and answers it."""
    now = timestamp(sim.now())
    return {
        "id": sim.state.new_id("note"),
        "type": None,
        "body": text,
        "attachment": None,
        "author": sim.user_rest(uid),
        "created_at": now,
        "updated_at": now,
        "system": False,
        "noteable_id": issue["id"],
        "noteable_type": "Issue",
        "project_id": issue["project_id"],
        "noteable_iid": issue["iid"],
        "resolvable": False,
        "confidential": internal,
        "internal": internal,
        "imported": False,
        "imported_from": "none",
    }


def routes(sim: SimCore) -> list[tuple[str, str, Handler]]:
    s = sim.state
    api = Api(sim)

    def note_of(request: web.Request) -> tuple[dict[str, Any], dict[str, Any]]:
        issue = api.issue_of(request)
        nid = int(request.match_info["note_id"])
        note = next((n for n in s.notes[issue["id"]] if n["id"] == nid), None)
        if note is None:
            raise ApiError(404, {"message": "404 Note Not Found"})
        return issue, note

    async def notes(request: web.Request, uid: int) -> web.Response:
        q = request.query
        order = q.get("order_by", "created_at")
        if order not in ("created_at", "updated_at"):
            raise bad_request("order_by does not have a valid value")
        if q.get("sort", "desc") not in ("asc", "desc"):
            raise bad_request("sort does not have a valid value")
        found = sorted(
            s.notes[api.issue_of(request)["id"]],
            key=lambda n: (n[order], n["id"]),
            reverse=q.get("sort", "desc") == "desc",
        )
        return paginate(request, found)

    async def get_note(request: web.Request, uid: int) -> web.Response:
        return web.json_response(note_of(request)[1])

    async def create_note(request: web.Request, uid: int) -> web.Response:
        api.writable(uid)
        data = await body(request)
        issue = api.issue_of(request)
        text = str(data.get("body") or "")
        if not text.strip():
            raise bad_request("body is missing")
        remaining, changes, summary = quick_actions(sim, issue, text)
        if changes:
            sim.update_issue(issue, changes, actor_id=uid, event_uuid=api.event_uuid(request))
        if not remaining:
            return web.json_response({"commands_changes": changes, "summary": summary}, status=202)
        # `internal` overrides the deprecated `confidential` when both are sent.
        internal = flag(data.get("internal", data.get("confidential", False)))
        note = new_note(sim, issue, uid, remaining, internal)
        s.notes[issue["id"]].append(note)
        emit_note_hook(sim, issue, note, "create", api.event_uuid(request))
        return web.json_response(note, status=201)

    async def edit_note(request: web.Request, uid: int) -> web.Response:
        api.writable(uid)
        data = await body(request)
        # Simulated users act as maintainers, who may edit (admin_note) anyone's note.
        issue, note = note_of(request)
        edited = "body" in data and str(data["body"]) != note["body"]
        if "body" in data:
            if not str(data["body"]).strip():
                raise bad_request("body is empty")
            note["body"] = str(data["body"])
        if "confidential" in data:
            note["confidential"] = note["internal"] = flag(data["confidential"])
        note["updated_at"] = timestamp(sim.now())
        if edited:  # Notes::UpdateService sends the hook only when the text changed
            emit_note_hook(sim, issue, note, "update", api.event_uuid(request))
        return web.json_response(note)

    async def delete_note(request: web.Request, uid: int) -> web.Response:
        api.writable(uid)
        issue, note = note_of(request)
        s.notes[issue["id"]].remove(note)
        return web.Response(status=204)

    p = f"{API}/projects/{{project}}/issues/{{iid:\\d+}}/notes"
    return [
        ("GET", p, api.route(notes)),
        ("POST", p, api.route(create_note)),
        ("GET", f"{p}/{{note_id:\\d+}}", api.route(get_note)),
        ("PUT", f"{p}/{{note_id:\\d+}}", api.route(edit_note)),
        ("DELETE", f"{p}/{{note_id:\\d+}}", api.route(delete_note)),
    ]
