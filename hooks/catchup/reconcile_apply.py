"""Acting on one rebuilt change: planned against the rules, done once, audited, marked handled.

Issues and milestones both go through here, so a reconciled change is planned, executed and
recorded exactly as a delivery is, whichever kind of object it is.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from hooks.actions.base import Snapshot
from hooks.actions.executor import ActionOutcome, ExecutionContext, TransientFailure
from hooks.catchup.reconcile_run import RetryLater, ScopeRun, SweepReader
from hooks.events import Event
from hooks.gitlab.ops import GitlabOps
from hooks.processing.processor import BotUser, RulesDispatcher, snapshot_of, trace_records
from hooks.rules.engine import not_triggered, plan
from hooks.rules.model import Rule, RuleSet
from hooks.service.metrics import Metrics
from hooks.storage.records import AuditRecord, stamped
from hooks.storage.store import Store
from hooks.storage.watch import WatchStore


class Applier:
    """What every reconciled item uses: GitLab through the gateway, the rules, the executor."""

    def __init__(
        self,
        *,
        rules: Callable[[], RuleSet | None],
        dispatcher: RulesDispatcher,
        store: Store,
        metrics: Metrics,
        bot: Callable[[], BotUser | None],
        now: Callable[[], datetime],
    ) -> None:
        self.rules = rules
        self.dispatcher = dispatcher
        self.store = store
        self.watch = WatchStore(store)
        self.metrics = metrics
        self.bot = bot
        self.now = now

    async def call(self, fn: Callable[[GitlabOps], Any]) -> Any:
        assert self.dispatcher.gateway is not None
        retries = self.dispatcher.max_retries
        return await self.dispatcher.gateway.call(lambda gl: fn(GitlabOps(gl, max_retries=retries)))

    async def execute(
        self,
        run: ScopeRun,
        event: Event,
        ruleset: RuleSet,
        fingerprint: str,
        skip: dict[str, str],
        snapshots: dict[str, Snapshot],
        records: list[AuditRecord],
    ) -> list[ActionOutcome]:
        now = self.now()
        paused = await self.dispatcher.paused_rules()

        def skipped(rule: Rule) -> str | None:
            return skip.get(rule.name) or paused(rule)

        the_plan, reader = await self.dispatcher.planned(
            lambda r: plan(
                event,
                ruleset,
                SweepReader(r, run.cache),
                now=now,
                fingerprint=fingerprint,
                skip=skipped,
            )
        )
        if reader.transient:
            raise RetryLater(f"reading GitLab failed: {reader.transient}")
        records.extend(trace_records(the_plan))
        for subject, issue in reader.seen.items():
            snapshots.setdefault(subject, snapshot_of(issue))
        context = ExecutionContext(run_key=f"reconcile:{event.subject}", snapshots=snapshots)
        try:
            outcomes, held = await self.dispatcher.carry_out(the_plan.actions, context)
        except TransientFailure as exc:
            raise RetryLater(str(exc)) from exc
        records.extend(held)
        records.extend(o.audit() for o in outcomes)
        return outcomes

    async def finish(
        self,
        run: ScopeRun,
        subject: str,
        changed_at: datetime,
        blocked: dict[str, str],
        records: list[AuditRecord],
        outcomes: list[ActionOutcome],
        *,
        version: str,
    ) -> None:
        """Audit the item (naming the rules `version` that planned it), count it, and record
        its change as handled."""
        report = run.report
        records.extend(
            AuditRecord(
                kind="rule",
                outcome="not_reconcilable",
                detail={"reason": why},
                subject=subject,
                rule=name,
            )
            for name, why in sorted(blocked.items())
        )
        failed = [o for o in outcomes if not o.ok]
        report.applied += 1
        self.metrics.reconcile_items.labels("applied").inc()
        if blocked:
            report.not_reconcilable += 1
            self.metrics.reconcile_items.labels("not_reconcilable").inc()
        if failed:
            report.failed += 1
            self.metrics.reconcile_items.labels("failed").inc()
            report.errors += [f"{o.action.rule}/{o.action.action}: {o.error}" for o in failed]
        key = f"reconcile:{subject}@{changed_at.isoformat()}"
        await self.store.add_audit(stamped(records, version), self.now(), run_key=key)
        outcome = "not_reconcilable" if blocked and not outcomes else "applied"
        await self.watch.mark_reconciled([(subject, changed_at, outcome)], self.now())


def rules_listening(ruleset: RuleSet, event: Event) -> list[Rule]:
    """The enabled rules this event triggers."""
    return [r for r in ruleset.rules if r.enabled and not not_triggered(r.on, event)]
