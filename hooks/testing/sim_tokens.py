"""GET /personal_access_tokens/self: the token a request authenticates with, as GitLab shows it.

Each user's token expires on the seed's `token_expires_at` (a date, an offset such as '+15d',
or absent: never); GitLab's `active` is false once that date has passed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from hooks.testing.sim_http import API, Api, Handler

if TYPE_CHECKING:
    from hooks.testing.sim_core import SimCore


def token_rest(sim: SimCore, uid: int) -> dict[str, Any]:
    """The fields doc/api/personal_access_tokens.md lists for a token (never its value)."""
    user = sim.state.users[uid]
    expires_at = user.get("token_expires_at")
    return {
        "id": uid,
        "name": f"{user['username']}-token",
        "revoked": False,
        "created_at": "2026-01-01T00:00:00.000Z",
        "description": None,
        "scopes": ["api"],
        "user_id": uid,
        "last_used_at": None,
        # GitLab ends a token at 00:00 UTC of its expiry date.
        "active": expires_at is None or expires_at > sim.now().date().isoformat(),
        "expires_at": expires_at,
    }


def routes(sim: SimCore) -> list[tuple[str, str, Handler]]:
    api = Api(sim)

    async def token_self(_request: web.Request, uid: int) -> web.Response:
        return web.json_response(token_rest(sim, uid))

    return [("GET", f"{API}/personal_access_tokens/self", api.route(token_self))]
