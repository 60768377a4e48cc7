"""The dashboard's approval requests: each with its plan, decision and outcome; Approve for
admins (the same decision as `POST /admin/approvals/{id}/approve`)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from aiohttp import web

from hooks.dashboard.views import redirect, render
from hooks.service.admin import approve_request
from hooks.service.context import SERVICE, Service
from hooks.storage.approvals import ApprovalStore


def _service(request: web.Request) -> Service:
    return request.app[SERVICE]


def _summary(outcome: list[dict[str, Any]] | None) -> dict[str, int]:
    return dict(Counter(r["status"] for r in outcome or []))


async def approvals(request: web.Request) -> web.Response:
    """The newest approval requests, with what each carried out and skipped."""
    service = _service(request)
    rows = await ApprovalStore(service.store).recent(limit=100)
    found = [
        {
            "row": row,
            "actions": len(row.plan.get("actions", [])),
            "summary": _summary(row.outcome),
            "skipped": [r for r in row.outcome or [] if r["status"] in ("skipped", "failed")],
            "open": row.status == "pending" and row.expires_at > service.now(),
        }
        for row in rows
    ]
    message = request.query.get("message", "")[:300]
    return render(request, "ui_approvals.html", {"approvals": found, "message": message})


async def approve(request: web.Request) -> web.Response:
    """Approve one request (admin session and CSRF token checked by the middleware)."""
    raw = request.match_info["id"]
    approval_id = int(raw) if raw.isdigit() else None
    if approval_id is None:
        return render(request, "ui_error.html", {"message": "No such request."}, status=404)
    status, message = await approve_request(_service(request), approval_id)
    if status >= 400:
        return render(request, "ui_error.html", {"message": message}, status=status)
    return redirect(f"/ui/approvals?message=Request+{approval_id}+approved")
