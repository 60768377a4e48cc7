"""Approval requests on GitLab: opened as an issue, decided by a Maintainer's label or an admin,
carried out from the recorded plan, expired when nobody decides.

Everything the bot writes here (the request issue, its notes, closing it) is an action with a
key of its own, carried out by the executor: once, found again by its marker after a crash.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import structlog

from hooks.actions.base import PlannedAction, Snapshot
from hooks.actions.comment import CommentParams
from hooks.actions.executor import ActionOutcome, ExecutionContext, Executor
from hooks.actions.issue import IssueParams
from hooks.actions.labels import LabelParams
from hooks.actions.state import NoParams
from hooks.approvals import wording
from hooks.approvals.plans import action_from, changes, render_request, snapshot_dict
from hooks.approvals.reads import label_added, read_items
from hooks.gitlab.gateway import Gateway, error_message, is_permanent
from hooks.gitlab.ops import GitlabOps
from hooks.rules.keys import digest
from hooks.storage.approvals import ApprovalRow, ApprovalStore
from hooks.storage.records import AuditRecord
from hooks.storage.store import Store

log = structlog.get_logger("hooks.approvals")

BOOKKEEPING = "@approvals"  # the ledger's rule name for what the bot writes on requests
RUN_LEASE = timedelta(minutes=10)
# A label on a request this long without its webhook having decided it: the webhook was lost.
MISSED_AFTER = timedelta(minutes=2)
BUSY = 202  # the decision's status while another run carries the request out


@dataclass(frozen=True)
class Decision:
    """What became of an approval: its HTTP-like status, a message, the audit lines."""

    status: int
    message: str
    records: list[AuditRecord]


class Approvals:
    """Approval requests of one process."""

    def __init__(
        self,
        store: Store,
        executor: Executor,
        gateway: Gateway | None,
        *,
        gitlab_url: str,
        ttl: timedelta,
        now: Callable[[], datetime],
    ) -> None:
        self.store = store
        self.db = ApprovalStore(store)
        self.executor = executor
        self.gateway = gateway
        self.gitlab_url = gitlab_url
        self.ttl = ttl
        self.now = now
        self._running: set[int] = set()  # requests this process is carrying out now

    # -- what the bot writes on the request issue --------------------------------

    async def _write(self, actions: list[PlannedAction], run_key: str) -> list[ActionOutcome]:
        return await self.executor.run(actions, ExecutionContext(run_key=run_key))

    def _on_issue(
        self, row: ApprovalRow, action: str, args: Any, text: str | None, tag: str
    ) -> PlannedAction:
        assert row.issue_iid is not None
        return PlannedAction(
            rule=BOOKKEEPING,
            action=action,
            subject=row.issue_ref,
            project=row.project,
            iid=row.issue_iid,
            args=args,
            text=text,
            key=f"approval.{row.id}.{digest(action, tag)}",
            dry_run=False,
        )

    def note(self, row: ApprovalRow, text: str, tag: str) -> PlannedAction:
        return self._on_issue(row, "comment", CommentParams(False), text, tag)

    def close(self, row: ApprovalRow) -> PlannedAction:
        return self._on_issue(row, "close", NoParams(), None, "close")

    async def ensure_issue(self, row: ApprovalRow, body: str, title: str) -> ApprovalRow:
        """The request's issue, created once (found by its marker after a lost answer)."""
        if row.issue_iid is not None:
            return row
        create = PlannedAction(
            rule=BOOKKEEPING,
            action="create_issue",
            subject=None,
            project=row.project,
            iid=None,
            args=IssueParams(row.project, title, (), (), None, None, False, None),
            text=body,
            key=f"approval.{row.id}.issue",
            dry_run=False,
        )
        [outcome] = await self._write([create], f"approval:{row.id}")
        if not outcome.ok or "iid" not in outcome.result:
            # GitLab refused (no such project, no permission): the actions stay held, and the
            # next run that plans them tries to open the request again.
            why = f"the request issue could not be opened in {row.project}: {outcome.error}"
            log.warning("approval request not opened", approval=row.id, error=outcome.error)
            await self.db.set_note(row.id, why)
            return replace(row, note=why)
        await self.db.set_issue(row.id, int(outcome.result["iid"]), outcome.result.get("web_url"))
        found = await self.db.get(row.id)
        assert found is not None
        return found

    # -- deciding -------------------------------------------------------------

    async def by_label(
        self,
        project_refs: list[str],
        iid: int,
        user_id: int | None,
        username: str,
        body: str,
        at: datetime | None = None,
    ) -> Decision | None:
        """`automation::approved` added to an issue (at `at`, default now): None when it is no
        approval request."""
        row = await self.db.by_issue(project_refs, iid)
        if row is None:
            return None
        at = at or self.now()
        tag = f"label {user_id} {at.isoformat()}"
        if row.status != "pending" or row.expires_at <= at:
            if (
                row.status == "approved"
                and row.id not in self._running
                and await self._resumable(row)
            ):
                # Approved, and nobody is carrying it out: a run that stopped half-way.
                resumed = await self._carry_out(row, f"@{row.decided_by}")
                if resumed.status != BUSY:
                    return resumed
            why = wording.not_pending(
                "expired" if row.status == "pending" else row.status,
                row.decided_by,
                row.decided_at or row.expires_at,
            )
            await self._write([self.note(row, why, tag)], f"approval:{row.id}")
            return Decision(409, why, [self._record(row, "refused", why, username)])
        try:
            level = await self._access_level(row.project, user_id)
        except Exception as exc:
            if not is_permanent(exc):
                raise  # GitLab briefly away: the delivery is tried again
            why = wording.unreadable(username, row.project, error_message(exc))
            await self._write([self.note(row, why, tag)], row_key(row))
            return Decision(403, why, [self._record(row, "refused", why, username)])
        if level is None or level < wording.MAINTAINER:
            why = wording.refusal(username, level)
            remove = self._on_issue(
                row, "remove_labels", LabelParams((wording.APPROVED_LABEL,)), None, tag
            )
            await self._write([self.note(row, why, tag), remove], f"approval:{row.id}")
            return Decision(403, why, [self._record(row, "refused", why, username)])
        shown_text = body.split("<!-- hooks:")[0].replace("\r\n", "\n").strip()
        edited = shown_text != render_request(row, self.gitlab_url)[1].strip()
        shown = f"@{username} ({wording.role(level)})"
        return await self._approve(row, username, shown, edited, at, tag)

    async def by_admin(self, approval_id: int) -> Decision:
        """An admin's approval (API or dashboard)."""
        row = await self.db.get(approval_id)
        if row is None:
            return Decision(404, f"no approval request {approval_id}", [])
        if row.status != "pending" or row.expires_at <= self.now():
            status = "expired" if row.status == "pending" else row.status
            why = wording.not_pending(status, row.decided_by, row.decided_at or row.expires_at)
            return Decision(409, f"approval request {approval_id}: {why}", [])
        shown = "an admin (dashboard or admin API)"
        return await self._approve(row, "admin", shown, False, self.now())

    async def _approve(
        self,
        row: ApprovalRow,
        by: str,
        shown: str,
        edited: bool,
        at: datetime,
        tag: str | None = None,
    ) -> Decision:
        if not await self.db.approve(row.id, by, at):
            # Another approval (a second label, the dashboard) decided it a moment earlier.
            fresh = await self.db.get(row.id)
            assert fresh is not None
            why = wording.not_pending(fresh.status, fresh.decided_by, fresh.decided_at)
            if tag is not None and fresh.issue_iid is not None:
                await self._write([self.note(fresh, why, tag)], row_key(fresh))
            return Decision(409, why, [self._record(fresh, "refused", why, by)])
        log.info("approval request approved", approval=row.id, rule=row.rule, by=by)
        approved = await self.db.get(row.id)
        assert approved is not None
        return await self._carry_out(approved, shown, edited)

    async def _resumable(self, row: ApprovalRow) -> bool:
        return await self.db.claim(row.id, self.executor.owner, self.now(), RUN_LEASE)

    async def _access_level(self, project: str, user_id: int | None) -> int | None:
        if user_id is None or self.gateway is None:
            return None
        return await self.gateway.call(
            lambda gl: GitlabOps(gl).member_access_level(project, user_id)
        )

    def _record(self, row: ApprovalRow, outcome: str, why: str, by: str) -> AuditRecord:
        return AuditRecord(
            kind="approval",
            outcome=outcome,
            detail={"approval": row.id, "reason": why, "by": by, "issue": row.issue_ref},
            subject=row.issue_ref,
            rule=row.rule,
        )

    # -- carrying out ----------------------------------------------------------

    async def _carry_out(self, row: ApprovalRow, shown: str, edited: bool = False) -> Decision:
        """Exactly the recorded plan: each item checked again, then each action once."""
        busy = Decision(BUSY, f"approval request {row.id} is being carried out", [])
        if row.id in self._running:
            return busy
        if not await self.db.claim(row.id, self.executor.owner, self.now(), RUN_LEASE):
            return busy
        self._running.add(row.id)
        try:
            return await self._carry_out_claimed(row, shown, edited)
        finally:
            self._running.discard(row.id)

    async def _carry_out_claimed(self, row: ApprovalRow, shown: str, edited: bool) -> Decision:
        actions = [action_from(a) for a in row.plan.get("actions", [])]
        recorded: dict[str, dict[str, Any]] = row.plan.get("subjects", {})
        current = await self._read_items(list(recorded))
        stale: dict[str, str] = {}
        for subject, before in recorded.items():
            now = current.get(subject)
            if isinstance(now, str):
                stale[subject] = now
            elif now is not None and (why := changes(before, snapshot_dict(now))):
                stale[subject] = why
        runnable = [a for a in actions if a.subject not in stale]
        context = ExecutionContext(
            run_key=f"approval:{row.id}",
            snapshots={s: v for s, v in current.items() if isinstance(v, Snapshot)},
        )
        outcomes = await self.executor.run(runnable, context)
        results: list[dict[str, Any]] = [
            {
                "key": o.action.key,
                "action": o.action.action,
                "subject": o.action.subject,
                "status": o.status,
                "error": o.error,
            }
            for o in outcomes
        ]
        records = [o.audit() for o in outcomes]
        for a in actions:
            if a.subject in stale:
                why = stale[a.subject]
                results.append(
                    {"key": a.key, "action": a.action, "subject": a.subject, "status": "skipped"}
                    | {"why": why}
                )
                records.append(
                    AuditRecord(
                        kind="action",
                        outcome="skipped",
                        detail={"action": a.action, "key": a.key, "params": a.params}
                        | {"reason": why},
                        subject=a.subject,
                        rule=a.rule,
                    )
                )
        summary = wording.outcome_note(shown, results, edited, self.gitlab_url)
        await self.store.add_audit(
            [self._record(row, "approved", summary, shown), *records],
            self.now(),
            run_key=f"approval:{row.id}",
        )
        await self.db.finish(row.id, self.executor.owner, results, self.now())
        if row.issue_iid is not None:
            await self._write([self.note(row, summary, "outcome"), self.close(row)], row_key(row))
        log.info("approval carried out", approval=row.id, rule=row.rule, actions=len(results))
        return Decision(200, summary, [self._record(row, "approved", summary, shown), *records])

    async def _read_items(self, subjects: list[str]) -> dict[str, Snapshot | str]:
        """Each item's state now, or why it cannot be read (deleted, moved)."""
        if self.gateway is None or not subjects:
            return {}
        found: dict[str, Snapshot | str] = await self.gateway.call(
            lambda gl: read_items(GitlabOps(gl), subjects)
        )
        return found

    # -- expiring and resuming (a periodic job) --------------------------------

    async def _missed_label(self, row: ApprovalRow) -> bool:
        """A label whose webhook never arrived (GitLab drops events while a hook is disabled):
        found on the request issue, decided as the webhook would have been."""
        if self.gateway is None or row.issue_iid is None:
            return False
        project, iid = row.project, row.issue_iid
        found = await self.gateway.call(lambda gl: label_added(GitlabOps(gl), project, iid))
        if found is None:
            return False
        event, body = found
        at = datetime.fromisoformat(str(event["created_at"]).replace("Z", "+00:00"))
        if self.now() - at < MISSED_AFTER:
            return False  # its webhook may still be on its way
        user = event.get("user") or {}
        refs = [row.project]
        await self.by_label(refs, iid, user.get("id"), user.get("username") or "unknown", body, at)
        return True

    async def sweep(self, _slot: datetime | None = None) -> int:
        """Close expired requests with a note; carry on approved ones whose carrier died; act
        on approval labels whose webhook was lost."""
        now, closed = self.now(), 0
        for row in await self.db.with_status(["pending"]):
            try:
                if await self._missed_label(row):
                    continue
            except Exception as exc:  # GitLab away: expiry below still runs
                log.warning("could not read approval request", approval=row.id, error=str(exc))
            if row.expires_at > now:
                continue
            note = wording.expired(row.expires_at)
            if await self.db.expire(row.id, now, note):
                closed += 1
                log.info("approval request expired", approval=row.id, rule=row.rule)
                await self.store.add_audit(
                    [self._record(row, "expired", note, "-")], now, run_key=row_key(row)
                )
                if row.issue_iid is not None:
                    await self._write(
                        [self.note(row, note, "expired"), self.close(row)], row_key(row)
                    )
        for row in await self.db.with_status(["approved"]):
            if row.id not in self._running and await self._resumable(row):
                await self._carry_out(row, f"@{row.decided_by}")
        return closed


def row_key(row: ApprovalRow) -> str:
    return f"approval:{row.id}"
