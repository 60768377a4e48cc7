"""Emoji reactions on issues and their comments (doc/api/emoji_reactions.md): list, get, award,
delete; awarding and deleting send an Emoji Hook (`sim_note_hooks`).

As API::AwardEmoji answers: an award is `{id, name, user, created_at, updated_at,
awardable_id, awardable_type, url}`; awarding the same emoji twice is refused with
`404 {"message": "404 Award Emoji Name has already been taken Not Found"}` (the add service's
error inside `not_found!`); only the user who awarded may delete (`401 Unauthorized`); an
unknown award is `404 Not found`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from hooks.testing.sim_http import API, Api, ApiError, Handler, bad_request, body, paginate
from hooks.testing.sim_note_hooks import emit_emoji_hook
from hooks.testing.sim_state import timestamp

if TYPE_CHECKING:
    from hooks.testing.sim_core import SimCore


# Alpha codes GitLab stores under another name (TanukiEmoji), the ones teams type most.
ALIASES = {"+1": "thumbsup", "-1": "thumbsdown"}


def routes(sim: SimCore) -> list[tuple[str, str, Handler]]:
    s = sim.state
    api = Api(sim)

    def awardable(
        request: web.Request,
    ) -> tuple[dict[str, Any], dict[str, Any] | None, tuple[str, int]]:
        """(issue, note or None, awards key) of the route."""
        issue = api.issue_of(request)
        if "note_id" not in request.match_info:
            return issue, None, ("Issue", issue["id"])
        nid = int(request.match_info["note_id"])
        note = next((n for n in s.notes[issue["id"]] if n["id"] == nid), None)
        if note is None:
            raise ApiError(404, {"message": "404 Note Not Found"})
        return issue, note, ("Note", nid)

    def award_of(request: web.Request) -> tuple[dict[str, Any], dict[str, Any] | None, Any]:
        issue, note, key = awardable(request)
        aid = int(request.match_info["award_id"])
        found = next((a for a in s.awards.get(key, []) if a["id"] == aid), None)
        if found is None:
            raise ApiError(404, {"message": "404 Not found"})
        return issue, note, found

    async def list_awards(request: web.Request, uid: int) -> web.Response:
        _issue, _note, key = awardable(request)
        return paginate(request, list(s.awards.get(key, [])))

    async def get_award(request: web.Request, uid: int) -> web.Response:
        return web.json_response(award_of(request)[2])

    async def award(request: web.Request, uid: int) -> web.Response:
        api.writable(uid)
        data = await body(request)
        name = str(data.get("name") or "").strip().strip(":")
        name = ALIASES.get(name, name)  # AwardEmojis::BaseService#normalize_name
        if not name:
            raise bad_request("name is missing")
        issue, note, key = awardable(request)
        given = s.awards.setdefault(key, [])
        if any(a["name"] == name and a["user"]["id"] == uid for a in given):
            raise ApiError(
                404, {"message": "404 Award Emoji Name has already been taken Not Found"}
            )
        now = timestamp(sim.now())
        new = {
            "id": s.new_id("award"),
            "name": name,
            "user": sim.user_rest(uid),
            "created_at": now,
            "updated_at": now,
            "awardable_id": key[1],
            "awardable_type": key[0],
            "url": None,
        }
        given.append(new)
        emit_emoji_hook(sim, issue, new, "award", uid, api.event_uuid(request), note)
        return web.json_response(new, status=201)

    async def revoke(request: web.Request, uid: int) -> web.Response:
        api.writable(uid)
        issue, note, found = award_of(request)
        if found["user"]["id"] != uid:
            raise ApiError(401, {"message": "401 Unauthorized"})
        key = (found["awardable_type"], found["awardable_id"])
        s.awards[key].remove(found)
        emit_emoji_hook(sim, issue, found, "revoke", uid, api.event_uuid(request), note)
        return web.Response(status=204)

    answer: list[tuple[str, str, Handler]] = []
    issue = f"{API}/projects/{{project}}/issues/{{iid:\\d+}}"
    for base in (f"{issue}/award_emoji", f"{issue}/notes/{{note_id:\\d+}}/award_emoji"):
        answer += [
            ("GET", base, api.route(list_awards)),
            ("POST", base, api.route(award)),
            ("GET", f"{base}/{{award_id:\\d+}}", api.route(get_award)),
            ("DELETE", f"{base}/{{award_id:\\d+}}", api.route(revoke)),
        ]
    return answer
