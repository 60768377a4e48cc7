"""Between a plan and the executor: each guarded rule's limits and approval threshold applied.

Every run goes through here (a delivery, a reconciliation sweep, a scheduled fire): what the
gate lets through is carried out, what waits for approval is recorded in one request per rule
and run, and what a limit cut is said in the trace and the audit.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from hooks.actions.base import PlannedAction
from hooks.actions.executor import ActionOutcome, ExecutionContext, Executor
from hooks.approvals.gate import Guarded, RuleGate, gate
from hooks.approvals.plans import action_data, render_request, snapshot_dict
from hooks.approvals.requests import Approvals
from hooks.rules.keys import digest
from hooks.rules.model import RuleSet
from hooks.storage.approvals import OPEN, ApprovalRow, NewApproval
from hooks.storage.records import AuditRecord


class Guard:
    """Applies `limits` and `approve_above` to runs of this process."""

    def __init__(
        self,
        approvals: Approvals,
        rules: Callable[[], RuleSet | None],
        executor: Executor,
        *,
        now: Callable[[], datetime],
    ) -> None:
        self.approvals = approvals
        self.rules = rules
        self.executor = executor
        self.now = now

    async def carry_out(
        self, actions: list[PlannedAction], context: ExecutionContext
    ) -> tuple[list[ActionOutcome], list[AuditRecord]]:
        """Run what the gate allows; the audit lines say what it held back and why."""
        ruleset = self.rules()
        guards = {}
        if ruleset is not None:
            guards = {r.name: g for r in ruleset.rules if (g := Guarded.of(r)) is not None}
        guarded = [a for a in actions if a.rule in guards]
        if not guarded or ruleset is None:
            return await self.executor.run(actions, context), []
        db = self.approvals.db
        hourly = [name for name, g in guards.items() if g.per_hour is not None]
        decided = gate(
            actions,
            guards,
            finished=await db.final_keys([a.key for a in guarded]),
            awaiting=await db.awaiting(),
            done_last_hour=await db.items_done_since(hourly, self.now() - timedelta(hours=1)),
            can_ask=not self.executor.dry_run and ruleset.approval_project is not None,
        )
        records = []
        for name, result in decided.rules.items():
            detail: dict[str, object] = {"reason": "; ".join(result.reasons) or None}
            if result.cut:
                detail["left_undone"] = result.cut
            for waiting in result.waiting:
                row = await db.get(waiting)
                if row is not None and row.issue_iid is None and row.status == "pending":
                    await self._open_issue(row)  # a run that stopped before opening it
            if result.waiting:
                detail["waiting_for"] = sorted(result.waiting)
            if result.held:
                row = await self._ask(ruleset, result, context)
                detail |= {"approval": row.id, "issue": row.issue_url or row.issue_ref}
                detail["reason"] = f"{detail['reason']}: request #{row.id}"
                if row.issue_iid is None and row.note:
                    detail["error"] = row.note
            if result.reasons:
                outcome = "awaiting_approval" if result.held or result.waiting else "limited"
                records.append(AuditRecord(kind="rule", outcome=outcome, detail=detail, rule=name))
        return await self.executor.run(decided.run, context), records

    async def _ask(
        self, ruleset: RuleSet, result: RuleGate, context: ExecutionContext
    ) -> ApprovalRow:
        """One approval request for the held actions of one rule, opened once."""
        assert ruleset.approval_project is not None
        rule = ruleset.by_name(result.rule)
        source = ruleset.sources.get(result.rule)
        subjects = {
            s: snapshot_dict(context.snapshots[s])
            for s in result.held_items
            if s in context.snapshots
        }
        plan = {
            "actions": [action_data(a) for a in result.held],
            "subjects": subjects,
            "where": f"{Path(source.file).name}:{source.line}" if source else "?",
            "approve_above": rule.approve_above,
        }
        now = self.now()
        origin = (
            f"delivery {context.delivery_id}"
            if context.delivery_id is not None
            else context.run_key or "?"
        )
        key = "approval." + digest(result.rule, sorted(a.key for a in result.held))
        while True:
            row, _ = await self.approvals.db.open(
                NewApproval(
                    key=key,
                    rule=result.rule,
                    source=origin,
                    project=ruleset.approval_project,
                    items=len(result.held_items),
                    plan=plan,
                    created_at=now,
                    expires_at=now + self.approvals.ttl,
                )
            )
            if row.status in OPEN:
                return await self._open_issue(row)
            # The same plan was asked for before and that request expired (or ran and skipped
            # these items): this run asks anew.
            key = f"{key}.{row.id}"

    async def _open_issue(self, row: ApprovalRow) -> ApprovalRow:
        title, body = render_request(row, self.approvals.gitlab_url)
        return await self.approvals.ensure_issue(row, body, title)
