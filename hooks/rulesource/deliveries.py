"""The rules project's stored Push Hook and Merge Request Hook deliveries, as the worker runs
them: a push to the rules ref refreshes the live rules; a merge request gets its check."""

from __future__ import annotations

from typing import Any

import structlog
from pydantic import BaseModel, ValidationError

from hooks.gitlab.gateway import error_message, is_permanent
from hooks.processing.dispatch import DeliveryHandler, DispatchResult, RetryableError
from hooks.rulesource.events import NULL_SHA, MergeRequestEvent, PushEvent
from hooks.rulesource.live import RulesSource
from hooks.rulesource.mr_check import MergeRequestCheck
from hooks.storage.records import AuditRecord, Delivery, stamped

log = structlog.get_logger("hooks.rulesource")


def _unreadable(model: type[BaseModel], exc: ValidationError) -> DispatchResult:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    error = f"not a {model.__name__} payload: {where}: {first['msg']}"
    record = AuditRecord(kind="error", outcome="unparseable", detail={"error": error})
    return DispatchResult(outcome="failed", records=[record], error=error)


class RulesDeliveries:
    """The worker's handlers for the kinds `push` and `merge_request`."""

    def __init__(self, source: RulesSource, check: MergeRequestCheck) -> None:
        self.source = source
        self.check = check

    def handlers(self) -> dict[str, DeliveryHandler]:
        return {"push": self.push, "merge_request": self.merge_request}

    def _version(self) -> str:
        return self.source.loaded.rules.version if self.source.loaded.rules else ""

    async def push(self, delivery: Delivery) -> DispatchResult:
        try:
            event = PushEvent.model_validate_json(delivery.body)
        except ValidationError as exc:
            return _unreadable(PushEvent, exc)
        summary: dict[str, Any] = {
            "kind": "push",
            "project": event.project.path_with_namespace,
            "ref": event.ref,
            "before": event.before,
            "after": event.after,
            "user": event.user_username,
        }
        subject = f"{event.project.path_with_namespace}@{event.after[:12]}"
        records = [AuditRecord(kind="event", outcome="received", detail=summary, subject=subject)]
        if event.after == NULL_SHA:
            reason = f"{event.ref} was deleted; the rules in force stay"
            records.append(AuditRecord(kind="rules", outcome="ignored", detail={"reason": reason}))
            return DispatchResult("done", stamped(records, self._version()))
        if event.before != NULL_SHA and event.total_commits_count == 0:
            # GitLab lists no commit for a branch moved back to one it already had.
            log.warning(
                "the rules ref moved back to an older commit (force-push); its head goes live",
                ref=event.ref,
                before=event.before,
                after=event.after,
            )
        result = await self.source.refresh(f"push {event.before[:12]}..{event.after[:12]}")
        detail: dict[str, Any] = {"reason": result.detail, "commit": result.sha}
        if result.errors:
            detail["error"] = "; ".join(result.errors)[:4000]
            detail["errors"] = result.errors
        records.append(AuditRecord(kind="rules", outcome=result.outcome, detail=detail))
        if result.outcome == "unavailable":
            if result.transient:
                raise RetryableError(f"reading the rules project failed: {result.detail}")
            return DispatchResult("failed", stamped(records, self._version()), result.detail)
        return DispatchResult("done", stamped(records, self._version()))

    async def merge_request(self, delivery: Delivery) -> DispatchResult:
        try:
            event = MergeRequestEvent.model_validate_json(delivery.body)
        except ValidationError as exc:
            return _unreadable(MergeRequestEvent, exc)
        attrs = event.object_attributes
        subject = f"{event.project.path_with_namespace}!{attrs.iid}"
        summary = {
            "kind": "merge_request",
            "action": attrs.action,
            "project": event.project.path_with_namespace,
            "subject": subject,
            "commit": event.head,
            "user": event.user.get("username"),
        }
        records = [AuditRecord(kind="event", outcome="received", detail=summary, subject=subject)]
        why = event.why_not_checked() or (None if event.head else "no head commit named")
        if why is not None:
            records.append(AuditRecord(kind="rules", outcome="ignored", detail={"reason": why}))
            return DispatchResult("done", stamped(records, self._version()))
        assert event.head is not None
        try:
            done = await self.check.run(event, event.head, delivery.id)
        except Exception as exc:
            error = f"checking {subject} failed: {error_message(exc)}"
            if not is_permanent(exc):
                raise RetryableError(error) from exc
            records.append(AuditRecord(kind="rules", outcome="failed", detail={"error": error}))
            return DispatchResult("failed", stamped(records, self._version()), error)
        if done == "busy":
            raise RetryableError(f"{subject} at {event.head[:12]} is being checked elsewhere")
        reason = (
            f"checked at {event.head[:12]}"
            if done == "done"
            else f"{event.head[:12]} was checked already"
        )
        records.append(AuditRecord(kind="rules", outcome=done, detail={"reason": reason}))
        return DispatchResult("done", stamped(records, self._version()))
