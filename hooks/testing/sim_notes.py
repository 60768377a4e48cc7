"""Notes (doc/api/notes.md) on issues and on merge requests: list, get, create, edit, delete.

One implementation serves both noteables; they differ only where GitLab's do: issue notes run
quick actions and take `confidential` on edit, merge request notes carry
`noteable_type: MergeRequest` and send the note hook with the merge request's attributes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import web

from hooks.testing.sim_commands import quick_actions
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
from hooks.testing.sim_note_hooks import emit_note_hook
from hooks.testing.sim_state import timestamp

if TYPE_CHECKING:
    from hooks.testing.sim_core import SimCore


def new_note(
    sim: SimCore,
    issue: dict[str, Any],
    uid: int,
    text: str,
    internal: bool,
    kind: str = "Issue",
) -> Any:
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
        "noteable_type": kind,
        "project_id": issue["project_id"],
        "noteable_iid": issue["iid"],
        "resolvable": False,
        "confidential": internal,
        "internal": internal,
        "imported": False,
        "imported_from": "none",
    }


@dataclass(frozen=True)
class Noteable:
    """What differs between issue notes and merge request notes."""

    kind: str  # noteable_type, and the note hook's flavour
    path: str  # the parent's collection in the URL
    parent_of: Callable[[web.Request], dict[str, Any]]
    store: dict[int, list[dict[str, Any]]]  # notes by the parent's id
    quick_actions: bool  # only issue notes run them here
    edit_confidential: bool  # `confidential` on edit is an issue-notes parameter


def routes(sim: SimCore) -> list[tuple[str, str, Handler]]:
    s = sim.state
    api = Api(sim)
    return [
        *noteable_routes(sim, Noteable("Issue", "issues", api.issue_of, s.notes, True, True)),
        *noteable_routes(
            sim,
            Noteable(
                "MergeRequest", "merge_requests", api.merge_request_of, s.mr_notes, False, False
            ),
        ),
    ]


def noteable_routes(sim: SimCore, on: Noteable) -> list[tuple[str, str, Handler]]:
    api = Api(sim)

    def note_of(request: web.Request) -> tuple[dict[str, Any], dict[str, Any]]:
        parent = on.parent_of(request)
        nid = int(request.match_info["note_id"])
        note = next((n for n in on.store[parent["id"]] if n["id"] == nid), None)
        if note is None:
            raise ApiError(404, {"message": "404 Note Not Found"})
        return parent, note

    async def notes(request: web.Request, uid: int) -> web.Response:
        order, desc = ordering(request.query, ("created_at", "updated_at"))
        found = sorted(
            on.store[on.parent_of(request)["id"]],
            key=lambda n: (n[order], n["id"]),
            reverse=desc,
        )
        return paginate(request, found)

    async def get_note(request: web.Request, uid: int) -> web.Response:
        return web.json_response(note_of(request)[1])

    async def create_note(request: web.Request, uid: int) -> web.Response:
        api.writable(uid)
        data = await body(request)
        parent = on.parent_of(request)
        text = str(data.get("body") or "")
        if not text.strip():
            raise bad_request("body is missing")
        if on.quick_actions:
            text, changes, summary = quick_actions(sim, parent, text)
            if changes:
                sim.update_issue(parent, changes, actor_id=uid, event_uuid=api.event_uuid(request))
            if not text:
                return web.json_response(
                    {"commands_changes": changes, "summary": summary}, status=202
                )
        # `internal` overrides the deprecated `confidential` when both are sent.
        internal = flag(data.get("internal", data.get("confidential", False)))
        note = new_note(sim, parent, uid, text, internal, on.kind)
        on.store[parent["id"]].append(note)
        emit_note_hook(sim, parent, note, "create", api.event_uuid(request), kind=on.kind)
        return web.json_response(note, status=201)

    async def edit_note(request: web.Request, uid: int) -> web.Response:
        api.writable(uid)
        data = await body(request)
        # Simulated users act as maintainers, who may edit (admin_note) anyone's note.
        parent, note = note_of(request)
        edited = "body" in data and str(data["body"]) != note["body"]
        if "body" in data:
            if not str(data["body"]).strip():
                raise bad_request("body is empty")
            note["body"] = str(data["body"])
        if on.edit_confidential and "confidential" in data:
            note["confidential"] = note["internal"] = flag(data["confidential"])
        note["updated_at"] = timestamp(sim.now())
        if edited:  # Notes::UpdateService sends the hook only when the text changed
            emit_note_hook(sim, parent, note, "update", api.event_uuid(request), kind=on.kind)
        return web.json_response(note)

    async def delete_note(request: web.Request, uid: int) -> web.Response:
        api.writable(uid)
        parent, note = note_of(request)
        on.store[parent["id"]].remove(note)
        return web.Response(status=204)

    p = f"{API}/projects/{{project}}/{on.path}/{{iid:\\d+}}/notes"
    return [
        ("GET", p, api.route(notes)),
        ("POST", p, api.route(create_note)),
        ("GET", f"{p}/{{note_id:\\d+}}", api.route(get_note)),
        ("PUT", f"{p}/{{note_id:\\d+}}", api.route(edit_note)),
        ("DELETE", f"{p}/{{note_id:\\d+}}", api.route(delete_note)),
    ]
