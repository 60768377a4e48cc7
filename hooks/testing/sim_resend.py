"""Resending a logged webhook delivery (API::Hooks::ResendHook, GitLab 17.4+), for project
and group hooks: the logged request sent again with its Idempotency-Key, within GitLab's limit
of 5 a minute per hook parent and user (Gitlab::ApplicationRateLimiter :web_hook_event_resend).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aiohttp import web

from hooks.testing.sim_http import Api, ApiError

if TYPE_CHECKING:
    from hooks.testing.sim_core import SimCore


def resend_handler(
    sim: SimCore, api: Api, hook_of: Callable[[web.Request], dict[str, Any]]
) -> Callable[[web.Request, int], Awaitable[web.Response]]:
    """The handler of POST .../hooks/:hook_id/events/:hook_event_id/resend."""

    async def resend_event(request: web.Request, uid: int) -> web.Response:
        """API::Hooks::ResendHook (GitLab 17.4+): the logged request sent again, with its
        Idempotency-Key; 201 with the receiver's status, 422 when it could not be sent."""
        hook = hook_of(request)
        api.writable(uid)
        # Limited per hook parent and user, as GitLab's :web_hook_event_resend scope is.
        owner = f"project:{hook['project_id']}" if hook.get("project_id") else ""
        if not sim.webhooks.take_resend(owner or f"group:{hook['group_id']}", uid):
            message = "This endpoint has been requested too many times. Try again later."
            raise ApiError(429, {"message": {"error": message}})
        wanted = int(request.match_info["log_id"])
        entry = next((e for e in sim.webhooks.log(hook["id"]) if e["id"] == wanted), None)
        if entry is None:
            raise ApiError(404, {"message": "404 Not found"})
        if entry["url"] != hook["url"]:
            message = "The hook URL has changed, and this log entry cannot be retried"
            raise ApiError(422, {"message": message})
        until = hook.get("disabled_until")
        if hook["alert_status"] == "permanently_disabled" or (
            until and datetime.fromisoformat(until) > datetime.now(UTC)
        ):  # WebHook#executable?: a temporary disabling ends at disabled_until
            raise ApiError(422, {"message": "Hook disabled"})
        headers = entry["request_headers"]
        # GitLab answers once the receiver has: the simulator's lock is let go meanwhile, or a
        # receiver reading the simulator's state from its own thread would wait on it.
        sim.lock.release()
        try:
            status = await sim.webhooks.send(
                hook,
                headers["X-Gitlab-Event"],
                entry["request_data"],
                api.event_uuid(request) or str(uuid.uuid4()),
                idempotency_key=headers.get("Idempotency-Key"),
            )
        finally:
            sim.lock.acquire()
        if not isinstance(status, int):  # the receiver could not be reached
            raise ApiError(422, {"message": f"{status}: the receiver could not be reached"})
        return web.json_response({"response_status": status}, status=201)

    return resend_event
