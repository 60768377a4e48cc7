"""Resending what GitLab failed to deliver, from the hook's own event log.

GitLab keeps a hook's deliveries for seven days (`GET .../hooks/:id/events`, 17.3+) and sends
one again on request (`POST .../hooks/:id/events/:hook_event_id/resend`, 17.4+) with the
same body and the same `Idempotency-Key`, so the intake stores it once however often it
arrives. That is better than reconciliation, which rebuilds an event from today's state and
cannot rebuild what a change looked like; so the watchdog resends first, and the sweep finds
the resent deliveries covering their changes.

GitLab allows 5 resends a minute per project or group and user (429 past that, without a
Retry-After). The resends recorded in the last minute are counted first, so a pass sends at
most what is left and the rest waits for the next pass; a 429 anyway ends the pass's resends
for that hook. Each delivery is resent at most `max_attempts` times; after that (the service
keeps refusing it) it is left to reconciliation.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import gitlab
import structlog

from hooks.events import EventParseError, IssueEvent, MilestoneEvent, parse_event
from hooks.gitlab.gateway import Gateway, error_message
from hooks.gitlab.ops import GitlabOps
from hooks.service.metrics import Metrics
from hooks.storage.resends import ResendStore, ResentEvent
from hooks.storage.store import Store
from hooks.storage.watch import (
    WatchedHook,
    WatchStore,
    covers,
    issue_subject,
    milestone_subject,
)

log = structlog.get_logger("hooks.resend")

WINDOW = timedelta(minutes=1)
# 422 answers meaning GitLab sent nothing: try again later (a disabled hook), or never.
NOT_SENT_LATER = "Hook disabled"
NOT_SENT_EVER = "The hook URL has changed"


@dataclass
class ResendReport:
    """What one pass did with a hook's failed deliveries."""

    resent: int = 0
    already_received: int = 0
    waiting: int = 0  # left for a later pass by GitLab's limit
    refused: str | None = None

    def detail(self) -> str | None:
        parts = []
        if self.resent:
            parts.append(f"{self.resent} failed deliveries resent")
        if self.already_received:
            parts.append(f"{self.already_received} already received")
        if self.waiting:
            parts.append(f"{self.waiting} wait for GitLab's resend limit")
        if self.refused:
            parts.append(f"resend refused: {self.refused}")
        return "; ".join(parts) or None


def changed(entry: dict[str, Any]) -> tuple[str, datetime] | None:
    """The subject and `updated_at` of the change a logged delivery carried, when known."""
    headers = entry.get("request_headers") or {}
    try:
        event = parse_event(
            str(headers.get("X-Gitlab-Event", "")), json.dumps(entry.get("request_data")).encode()
        )
    except EventParseError:
        return None
    if isinstance(event, IssueEvent) and event.object_attributes.iid is not None:
        at = event.object_attributes.updated_at
        return (issue_subject(event.project_path, event.object_attributes.iid), at) if at else None
    if isinstance(event, MilestoneEvent) and event.object_attributes.id is not None:
        at = event.object_attributes.updated_at
        return (milestone_subject(event.object_attributes.id), at) if at else None
    return None


def idempotency_key(entry: dict[str, Any]) -> str | None:
    headers = entry.get("request_headers") or {}
    key = headers.get("Idempotency-Key") if isinstance(headers, dict) else None
    return str(key) if key else None


def _swept(change: tuple[str, datetime] | None, swept: dict[str, datetime]) -> bool:
    return change is not None and covers(swept.get(change[0]), change[1])


class Resender:
    """Resends a watched hook's failed deliveries within GitLab's limit, each once."""

    def __init__(
        self,
        store: Store,
        gateway: Gateway,
        metrics: Metrics,
        *,
        now: Callable[[], datetime],
        per_minute: int = 5,
        max_attempts: int = 3,
    ) -> None:
        self.resends = ResendStore(store)
        self.watch = WatchStore(store)
        self.gateway = gateway
        self.metrics = metrics
        self.now = now
        self.per_minute = per_minute
        self.max_attempts = max_attempts

    async def resend(
        self, kind: str, hook: WatchedHook, failed: list[dict[str, Any]]
    ) -> ResendReport:
        """Resend the failed entries not dealt with yet, oldest first, within the limit."""
        report = ResendReport()
        if self.per_minute == 0 or not failed:
            return report
        handled = await self.resends.handled(hook.scope, hook.hook_id)
        fresh = sorted((e for e in failed if int(e["id"]) not in handled), key=lambda e: e["id"])
        keys = [k for k in map(idempotency_key, fresh) if k]
        received = await self.resends.received(keys)
        newest = {idempotency_key(e): int(e["id"]) for e in fresh}
        changes = {int(e["id"]): changed(e) for e in fresh}
        swept = await self.watch.reconciled(c[0] for c in changes.values() if c)
        spent = await self.resends.resent_since(hook.scope, self.now() - WINDOW)
        budget = self.per_minute - spent
        for entry in fresh:
            key = idempotency_key(entry)
            if key is None:
                outcome = "no_key"  # GitLab before 17.4: reconciliation covers it
            elif key in received:
                outcome = "already_received"
            elif _swept(changes[int(entry["id"])], swept):
                outcome = "reconciled"  # a sweep already acted on it: resent, it could repeat
            elif newest[key] != int(entry["id"]):
                outcome = "duplicate"  # a later entry of the same delivery is resent instead
            elif await self.resends.resends_of(key) >= self.max_attempts:
                outcome = "gave_up"
            elif budget <= 0:
                report.waiting += 1
                continue
            else:
                sent = await self._send(kind, hook, entry, report)
                if sent is None:
                    break
                outcome, status = sent
                budget -= 1
                await self._record(hook, entry, outcome, status)
                continue
            await self._record(hook, entry, outcome, None)
            if outcome == "already_received":
                report.already_received += 1
        if report.waiting:
            self.metrics.webhook_resent.labels(hook.name, "rate_limited").inc(report.waiting)
        return report

    async def _send(
        self, kind: str, hook: WatchedHook, entry: dict[str, Any], report: ResendReport
    ) -> tuple[str, str | None] | None:
        """(outcome, the receiver's status) of one resend; None ends the pass for this hook."""
        log_id = int(entry["id"])
        try:
            status = await self.gateway.call(
                lambda gl: GitlabOps(gl).resend_hook_event(kind, hook.scope, hook.hook_id, log_id)
            )
        except gitlab.exceptions.GitlabHttpError as exc:
            message = error_message(exc)
            if exc.response_code == 429:
                report.waiting += 1
                log.warning("resend limited by GitLab", hook=hook.name, log_id=log_id)
                return None
            if exc.response_code == 404:
                return "missing", None  # gone from GitLab's log (older than a week)
            if exc.response_code == 422 and NOT_SENT_EVER in message:
                return "not_resendable", None
            if exc.response_code == 422 and NOT_SENT_LATER not in message:
                report.resent += 1  # GitLab sent it; the receiver did not answer
                return "resent", "unreachable"
            report.refused = message
            log.warning("resend refused", hook=hook.name, log_id=log_id, error=message)
            return None
        except Exception as exc:  # GitLab unreachable: the next pass tries again
            report.refused = error_message(exc)
            return None
        report.resent += 1
        log.info("delivery resent", hook=hook.name, log_id=log_id, response_status=status)
        return "resent", str(status) if status is not None else None

    async def _record(
        self, hook: WatchedHook, entry: dict[str, Any], outcome: str, status: str | None
    ) -> None:
        headers = entry.get("request_headers") or {}
        await self.resends.record(
            ResentEvent(
                scope=hook.scope,
                hook_id=hook.hook_id,
                log_id=int(entry["id"]),
                idempotency_key=idempotency_key(entry),
                event=str(headers.get("X-Gitlab-Event") or entry.get("trigger") or "")[:100],
                failed_status=str(entry.get("response_status") or "")[:40] or None,
                outcome=outcome,
                response_status=status,
                created_at=self.now(),
            )
        )
        self.metrics.webhook_resent.labels(hook.name, outcome).inc()
