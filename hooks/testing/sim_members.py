"""Group and project members (doc/api/members.md): direct and inherited lists, one member.

A project's `members/all` holds its direct members and those of its group and every ancestor
group; a user found more than once appears once, with the highest access level (the effective
permission, as GitLab answers since 13.11). A user who is not a member is answered
`404 {"message": "404 Not found"}` (GitLab's `find_by!`, a RecordNotFound).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from hooks.testing.sim_http import API, Api, ApiError, Handler, bad_request, ids, paginate
from hooks.testing.sim_state import timestamp

if TYPE_CHECKING:
    from hooks.testing.sim_core import SimCore

ACCESS_LEVELS = {
    "no access": 0,
    "minimal access": 5,
    "guest": 10,
    "planner": 15,
    "reporter": 20,
    "developer": 30,
    "maintainer": 40,
    "owner": 50,
}


def access_level(value: Any) -> int:
    """An access level from a seed: a number or its role name (`developer`)."""
    if isinstance(value, int) or str(value).isdigit():
        level = int(value)
        if level in ACCESS_LEVELS.values():
            return level
    elif str(value).lower() in ACCESS_LEVELS:
        return ACCESS_LEVELS[str(value).lower()]
    raise ValueError(f"{value!r} is not an access level (one of {', '.join(ACCESS_LEVELS)})")


def add_member(
    sim: SimCore, source: tuple[str, int], uid: int, level: int, expires_at: str | None = None
) -> None:
    """Make a user a direct member of a project or group (replacing an earlier membership)."""
    sim.state.members.setdefault(source, {})[uid] = {
        "access_level": level,
        "created_at": timestamp(sim.now()),
        "expires_at": expires_at,
    }


def load_members(sim: SimCore, specs: list[dict[str, Any]]) -> None:
    """The seed's `members: [{project|group: path, user: name, access_level: developer}]`."""
    s = sim.state
    for spec in specs:
        user = s.user_by_name(spec["user"])
        if user is None:
            raise ValueError(f"member {spec['user']!r}: no such user in the seed")
        if spec.get("group"):
            owner = s.group(spec["group"])
            kind = "group"
        else:
            owner = s.project(spec["project"])
            kind = "project"
        if owner is None:
            raise ValueError(f"member {spec['user']!r}: no {kind} {spec.get(kind)!r} in the seed")
        level = access_level(spec["access_level"])
        add_member(sim, (kind, owner["id"]), user["id"], level, spec.get("expires_at"))


def sources(
    sim: SimCore, kind: str, owner: dict[str, Any], inherited: bool
) -> list[tuple[str, int]]:
    """Where a project's or group's members come from: itself, then (inherited) its groups."""
    s = sim.state
    start = s.project_group(owner) if kind == "project" else owner
    found = [(kind, int(owner["id"]))]
    if inherited:
        found += [("group", int(g["id"])) for g in s.ancestors(start) if g is not owner]
    return found


def members_of(
    sim: SimCore, kind: str, owner: dict[str, Any], inherited: bool
) -> dict[int, dict[str, Any]]:
    """User id -> membership: the highest access level among the sources."""
    best: dict[int, dict[str, Any]] = {}
    for source in sources(sim, kind, owner, inherited):
        for uid, m in sim.state.members.get(source, {}).items():
            if uid not in best or m["access_level"] > best[uid]["access_level"]:
                best[uid] = m
    return best


def member_rest(sim: SimCore, uid: int, membership: dict[str, Any]) -> dict[str, Any]:
    return {
        **(sim.user_rest(uid) or {}),
        "access_level": membership["access_level"],
        "created_at": membership["created_at"],
        "expires_at": membership["expires_at"],
        "group_saml_identity": None,
        "membership_state": "active",
    }


def routes(sim: SimCore) -> list[tuple[str, str, Handler]]:
    s = sim.state
    api = Api(sim)

    def owner_of(request: web.Request) -> tuple[str, dict[str, Any]]:
        if "project" in request.match_info:
            return "project", api.project_of(request)
        return "group", api.group_of(request)

    def listing(inherited: bool) -> Any:
        async def handler(request: web.Request, uid: int) -> web.Response:
            q = request.query
            kind, owner = owner_of(request)
            found = members_of(sim, kind, owner, inherited)
            try:
                wanted = set(ids(q.getall("user_ids[]", []) or q.get("user_ids")))
                skipped = set(ids(q.getall("skip_users[]", []) or q.get("skip_users")))
            except ValueError:
                raise bad_request("user_ids is invalid") from None
            term = (q.get("query") or "").lower()
            answer = [
                member_rest(sim, member_id, m)
                for member_id, m in sorted(found.items())
                if (not wanted or member_id in wanted)
                and member_id not in skipped
                and (
                    term in s.users[member_id]["username"].lower()
                    or term in s.users[member_id]["name"].lower()
                )
            ]
            return paginate(request, answer)

        return handler

    def one(inherited: bool) -> Any:
        async def handler(request: web.Request, uid: int) -> web.Response:
            kind, owner = owner_of(request)
            member_id = int(request.match_info["user_id"])
            found = members_of(sim, kind, owner, inherited).get(member_id)
            if found is None:
                raise ApiError(404, {"message": "404 Not found"})
            return web.json_response(member_rest(sim, member_id, found))

        return handler

    answer: list[tuple[str, str, Handler]] = []
    for base in (f"{API}/projects/{{project}}", f"{API}/groups/{{group}}"):
        answer += [
            ("GET", f"{base}/members", api.route(listing(inherited=False))),
            ("GET", f"{base}/members/all", api.route(listing(inherited=True))),
            ("GET", f"{base}/members/{{user_id:\\d+}}", api.route(one(inherited=False))),
            ("GET", f"{base}/members/all/{{user_id:\\d+}}", api.route(one(inherited=True))),
        ]
    return answer
