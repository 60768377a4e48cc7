"""Runs one scheduled rule for one fire time: plan, execute, audit under a run key."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

import structlog

from hooks.actions.executor import ExecutionContext, TransientFailure
from hooks.processing.processor import RulesDispatcher, outcome_of, snapshot_of, trace_records
from hooks.rules.engine import plan_schedule
from hooks.rules.model import RuleSet
from hooks.storage.records import AuditRecord, stamped
from hooks.storage.store import Store

log = structlog.get_logger("hooks.schedule_runner")


def run_key(rule: str, scheduled_at: datetime) -> str:
    """How the audit trail and the actions ledger name one scheduled run."""
    return f"schedule:{rule}@{scheduled_at.isoformat()}"


class ScheduleRunner:
    """The scheduler's RunFn over the rules pipeline of this process."""

    def __init__(
        self,
        rules: Callable[[], RuleSet | None],
        dispatcher: RulesDispatcher,
        store: Store,
        *,
        default_tz: str,
        now: Callable[[], datetime],
    ) -> None:
        self.rules = rules
        self.dispatcher = dispatcher
        self.store = store
        self.default_tz = default_tz
        self.now = now

    async def __call__(self, rule_name: str, scheduled_at: datetime, late: bool) -> str:
        ruleset = self.rules()
        if ruleset is None:
            raise RuntimeError("no rules loaded")
        try:
            rule = ruleset.by_name(rule_name)
        except KeyError:
            return "skipped"  # removed by a reload since it was scheduled
        schedule = rule.on.schedule
        zone = ZoneInfo((schedule.timezone if schedule else None) or self.default_tz)
        today = scheduled_at.astimezone(zone).date()
        now = self.now()
        paused = await self.dispatcher.paused_rules()
        the_plan, reader = await self.dispatcher.planned(
            lambda r: plan_schedule(
                rule, scheduled_at, r, now=now, today=today, variables=ruleset.vars, skip=paused
            )
        )
        if reader.transient:
            raise RuntimeError(f"reading GitLab failed: {reader.transient}")
        key = run_key(rule_name, scheduled_at)
        context = ExecutionContext(
            run_key=key, snapshots={k: snapshot_of(i) for k, i in reader.seen.items()}
        )
        try:
            outcomes, held = await self.dispatcher.carry_out(the_plan.actions, context)
        except TransientFailure as exc:
            raise RuntimeError(str(exc)) from exc
        records = [
            AuditRecord(
                kind="event",
                outcome="scheduled",
                detail={"rule": rule_name, "scheduled_at": scheduled_at.isoformat(), "late": late},
            ),
            *trace_records(the_plan),
            *held,
            *(o.audit() for o in outcomes),
        ]
        await self.store.add_audit(stamped(records, ruleset.version), self.now(), run_key=key)
        outcome = outcome_of(outcomes)
        if any(t.error for t in the_plan.trace):
            outcome = "failed" if not outcomes else "partial"
        return outcome
