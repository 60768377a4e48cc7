"""A local stand-in for Slack, Mattermost and Microsoft Teams incoming webhooks.

Each path checks the message shape that service documents and answers as it does:
Slack `200 ok` (or `400 invalid_payload`, `404 no_service`), Mattermost `200 ok` (or its JSON
app error), a Teams workflow `202` with an empty body (or 400). Tests can make the next
answers fail or hang, and read what arrived.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

SLACK = "/services/T0001/B0001/XXXXSECRETXXXX"
MATTERMOST = "/hooks/xxxsecretmattermostxxx"
TEAMS = "/workflows/abc/triggers/manual/paths/invoke?sig=XXXSECRETSIG"
ADAPTIVE = "application/vnd.microsoft.card.adaptive"


@dataclass
class Received:
    kind: str
    body: dict[str, Any]


@dataclass
class _Fault:
    status: int | None  # None: hang until the receiver stops
    body: str
    times: int


@dataclass
class ChatReceiver:
    """Records every well-formed message; answers faults when told to."""

    received: list[Received] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)  # (kind, why)
    _faults: dict[str, list[_Fault]] = field(default_factory=dict)
    _stop: asyncio.Event = field(default_factory=asyncio.Event)

    def fail_next(self, kind: str, status: int, body: str = "", times: int = 1) -> None:
        self._faults.setdefault(kind, []).append(_Fault(status, body, times))

    def hang_next(self, kind: str, times: int = 1) -> None:
        self._faults.setdefault(kind, []).append(_Fault(None, "", times))

    def messages(self, kind: str) -> list[dict[str, Any]]:
        return [r.body for r in self.received if r.kind == kind]

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post(SLACK, self._slack)
        app.router.add_post(MATTERMOST, self._mattermost)
        app.router.add_post(TEAMS.partition("?")[0], self._teams)
        app.on_shutdown.append(self._release)
        return app

    async def _release(self, _app: web.Application) -> None:
        self._stop.set()

    async def _fault(self, kind: str) -> web.Response | None:
        queue = self._faults.get(kind) or []
        if not queue:
            return None
        fault = queue[0]
        fault.times -= 1
        if fault.times <= 0:
            queue.pop(0)
        if fault.status is None:
            await self._stop.wait()  # the scenario: a webhook that never answers
            return web.Response(status=503)
        return web.Response(status=fault.status, text=fault.body)

    async def _json(self, request: web.Request) -> Any:
        if request.content_type != "application/json":
            return None
        try:
            return json.loads(await request.text())
        except ValueError:
            return None

    async def _slack(self, request: web.Request) -> web.Response:
        if (fault := await self._fault("slack")) is not None:
            return fault
        body = await self._json(request)
        text = body.get("text") if isinstance(body, dict) else None
        if not isinstance(text, str) or not text.strip():
            self.refused.append(("slack", "no text"))
            return web.Response(status=400, text="invalid_payload")
        self.received.append(Received("slack", body))
        return web.Response(text="ok")

    async def _mattermost(self, request: web.Request) -> web.Response:
        if (fault := await self._fault("mattermost")) is not None:
            return fault
        body = await self._json(request)
        text = body.get("text") if isinstance(body, dict) else None
        if not isinstance(text, str) or not text.strip():
            self.refused.append(("mattermost", "no text"))
            error = {
                "id": "web.incoming_webhook.text.app_error",
                "message": "No text specified.",
                "status_code": 400,
            }
            return web.json_response(error, status=400)
        self.received.append(Received("mattermost", body))
        return web.Response(text="ok")

    async def _teams(self, request: web.Request) -> web.Response:
        if (fault := await self._fault("teams")) is not None:
            return fault
        body = await self._json(request)
        why = _teams_problem(body)
        if why:
            self.refused.append(("teams", why))
            error = {"error": {"code": "InvalidRequest", "message": why}}
            return web.json_response(error, status=400)
        self.received.append(Received("teams", body))
        return web.Response(status=202)


def _teams_problem(body: Any) -> str | None:
    """What is wrong with a workflow webhook's message: an Adaptive Card in an attachment."""
    if not isinstance(body, dict) or body.get("type") != "message":
        return "type must be 'message'"
    attachments = body.get("attachments")
    if not isinstance(attachments, list) or not attachments:
        return "attachments must be a non-empty list"
    for attachment in attachments:
        content = attachment.get("content") if isinstance(attachment, dict) else None
        if attachment.get("contentType") != ADAPTIVE or not isinstance(content, dict):
            return f"each attachment must be contentType {ADAPTIVE} with content"
        if content.get("type") != "AdaptiveCard" or not content.get("version"):
            return "content must be an AdaptiveCard with a version"
        blocks = content.get("body")
        if not isinstance(blocks, list) or not all(
            isinstance(b, dict) and b.get("type") and isinstance(b.get("text", ""), str)
            for b in blocks
        ):
            return "the card's body must be a list of elements"
    return None
