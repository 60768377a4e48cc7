"""What happens to one event: loop guard, plan against the rules, execute, explain.

This is the dispatcher the worker calls. The plan is computed in a gateway thread, since
the rule engine reads GitLab synchronously through its reader.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import structlog

from hooks.actions.base import PlannedAction, Snapshot
from hooks.actions.executor import ActionOutcome, ExecutionContext, Executor, TransientFailure
from hooks.approvals.guard import Guard
from hooks.approvals.requests import Approvals
from hooks.approvals.wording import APPROVED_LABEL
from hooks.events import EmojiEvent, Event, IssueEvent, NoteEvent
from hooks.gitlab.gateway import Gateway, is_permanent
from hooks.gitlab.ops import GitlabOps
from hooks.guards.breaker import Breaker
from hooks.processing.dispatch import DispatchResult, Outcome, RetryableError, event_summary
from hooks.rules.engine import Plan, plan
from hooks.rules.model import Rule, RuleSet
from hooks.rules.reader import (
    IssueInfo,
    Reader,
    ReaderError,
    StaticReader,
)
from hooks.rules.reads import Read, ReaderWrapper
from hooks.service.metrics import Metrics
from hooks.storage.records import AuditRecord, Delivery, stamped

log = structlog.get_logger("hooks.processor")
T = TypeVar("T")


@dataclass(frozen=True)
class BotUser:
    """The GitLab user the service acts as (resolved at start with GET /user)."""

    id: int | None
    username: str | None

    def caused(self, event: Event) -> bool:
        user = event.user
        if isinstance(event, NoteEvent) and self._is(None, event.object_attributes.author_id):
            return True
        if isinstance(event, EmojiEvent) and self._is(None, event.object_attributes.user_id):
            return True
        if user is None:
            return False
        return self._is(user.username, user.id)

    def _is(self, username: str | None, uid: int | None) -> bool:
        return (self.id is not None and uid == self.id) or (
            self.username is not None and username is not None and username == self.username
        )


class RecordingReader(ReaderWrapper):
    """Wraps a reader: remembers every issue it returned and any transient failure.

    The engine records a reader error as that rule's error and goes on; a read that failed
    because GitLab was briefly unavailable must instead make the delivery retry.
    """

    def __init__(self, inner: Reader) -> None:
        super().__init__(inner)
        self.seen: dict[str, IssueInfo] = {}
        self.transient: str | None = None

    def read(self, read: Read[T]) -> T:
        try:
            found = super().read(read)
        except ReaderError:
            raise
        except Exception as exc:
            if not is_permanent(exc):
                self.transient = f"{type(exc).__name__}: {exc}"
            raise ReaderError(str(exc)) from exc
        for issue in found if isinstance(found, list) else [found]:
            if isinstance(issue, IssueInfo):
                self.seen[issue.subject] = issue
        return found


def snapshot_of(issue: IssueInfo) -> Snapshot:
    milestone = issue.milestone
    return Snapshot(
        labels=set(issue.labels),
        milestone_id=milestone.id if milestone else None,
        milestone_title=milestone.title if milestone else None,
        state=issue.state,
        assignees=set(issue.assignees),
        health=issue.health_status,
    )


def outcome_of(outcomes: list[ActionOutcome]) -> Outcome:
    """done when every action ended well, failed when none did, partial otherwise."""
    if all(o.ok for o in outcomes):
        return "done"
    return "failed" if not any(o.ok for o in outcomes) else "partial"


class RulesDispatcher:
    """Plans an event against the loaded rules and has the executor carry out the plan."""

    def __init__(
        self,
        rules: Callable[[], RuleSet | None],
        executor: Executor,
        *,
        gateway: Gateway | None,
        reader_factory: Callable[[GitlabOps], Reader],
        bot: Callable[[], BotUser | None],
        ignore_own_events: bool = True,
        max_retries: int = 5,
        metrics: Metrics | None = None,
        now: Callable[[], datetime],
        bot_username: str | None = None,
    ) -> None:
        self.rules = rules
        self.bot_username = bot_username  # whom commands address; default the token's user
        self.executor = executor
        self.gateway = gateway
        self.reader_factory = reader_factory
        self.bot = bot
        self.ignore_own_events = ignore_own_events
        self.max_retries = max_retries
        self.metrics = metrics or Metrics()
        self.now = now
        # Set by the runtime: rules' `limits`/`approve_above`, and approval requests.
        self.guard: Guard | None = None
        self.approvals: Approvals | None = None
        self.breaker: Breaker | None = None  # set by the runtime: paused rules plan nothing

    async def carry_out(
        self, actions: list[PlannedAction], context: ExecutionContext
    ) -> tuple[list[ActionOutcome], list[AuditRecord]]:
        """Have the executor carry out a plan's actions, within each rule's guard rails; the
        audit lines say what was held back for approval or cut by a limit."""
        if self.guard is None:
            return await self.executor.run(actions, context), []
        return await self.guard.carry_out(actions, context)

    async def _approval(self, event: Event) -> list[AuditRecord] | None:
        """The approval label added to an approval request's issue: decided here, no rules."""
        if self.approvals is None or not isinstance(event, IssueEvent):
            return None
        added, _ = event.changed_labels()
        iid = event.object_attributes.iid
        if APPROVED_LABEL not in added or iid is None:
            return None
        refs = [r for r in (event.project.path_with_namespace, str(event.project.id)) if r]
        user = event.user
        decision = await self.approvals.by_label(
            refs,
            iid,
            user.id if user else None,
            (user.username if user else None) or "unknown",
            event.object_attributes.description or "",
        )
        return None if decision is None else decision.records

    async def paused_rules(self) -> Callable[[Rule], str | None]:
        """Why a rule is paused by its circuit breaker (None: it is not), as known now."""
        if self.breaker is None:
            return lambda _rule: None
        await self.breaker.refresh()
        return self.breaker.why_paused

    async def dispatch(self, delivery: Delivery, event: Event) -> DispatchResult:
        records = [
            AuditRecord(
                kind="event", outcome="received", detail=event_summary(event), subject=event.subject
            )
        ]
        bot = self.bot()
        # The bot's own comments and reactions never trigger rules, whatever the setting: a
        # reply to a command would otherwise be read as another command.
        said = isinstance(event, NoteEvent | EmojiEvent)
        guarded = self.ignore_own_events or said
        if guarded and bot is None and self.gateway is not None:
            # Acting before knowing who the bot is could answer its own changes.
            raise RetryableError("the bot user is not known yet (GET /user failed)")
        reason = None
        if guarded and bot is not None and bot.caused(event):
            reason = f"caused by the bot's own user @{bot.username}; loop guard"
        elif isinstance(event, NoteEvent | EmojiEvent):
            reason = event.unsupported()
        if reason is not None:
            records.append(AuditRecord(kind="event", outcome="ignored", detail={"reason": reason}))
            return DispatchResult(outcome="done", records=records)
        try:
            approval = await self._approval(event)
        except TransientFailure as exc:
            raise RetryableError(str(exc)) from exc
        if approval is not None:
            return DispatchResult(outcome="done", records=records + approval)
        ruleset = self.rules()
        if ruleset is None:
            raise RetryableError("no rules loaded")

        the_plan, reader = await self._plan(event, ruleset, delivery.event_uuid)
        if reader.transient:
            raise RetryableError(f"reading GitLab failed: {reader.transient}")
        records.extend(trace_records(the_plan))

        snapshots = {key: snapshot_of(issue) for key, issue in reader.seen.items()}
        if isinstance(event, IssueEvent):
            snapshots[event.subject] = Snapshot.from_event(event)
        context = ExecutionContext(
            delivery_id=delivery.id, event_uuid=delivery.event_uuid, snapshots=snapshots
        )
        try:
            outcomes, held = await self.carry_out(the_plan.actions, context)
        except TransientFailure as exc:
            raise RetryableError(str(exc)) from exc
        records.extend(held)
        records.extend(o.audit() for o in outcomes)
        rule_errors = [t for t in the_plan.trace if t.error]
        outcome = outcome_of(outcomes)
        if rule_errors and outcome == "done":
            outcome = "partial"
        error = None
        if outcome != "done":
            failed = [f"{o.action.rule}/{o.action.action}: {o.error}" for o in outcomes if not o.ok]
            failed += [f"{t.rule}: {t.error}" for t in rule_errors]
            error = "; ".join(failed)[:2000]
        return DispatchResult(
            outcome=outcome, records=stamped(records, ruleset.version), error=error
        )

    async def _plan(
        self, event: Event, ruleset: RuleSet, event_uuid: str | None
    ) -> tuple[Plan, RecordingReader]:
        now = self.now()
        paused = await self.paused_rules()
        bot = self.bot()
        name = self.bot_username or (bot.username if bot else None)
        return await self.planned(
            lambda reader: plan(event, ruleset, reader, now=now, skip=paused, bot=name),
            event_uuid,
        )

    async def planned(
        self, make: Callable[[Reader], Plan], event_uuid: str | None = None
    ) -> tuple[Plan, RecordingReader]:
        """Run a planning function with a GitLab reader (in a gateway thread) and time it."""
        started = time.perf_counter()
        if self.gateway is None:
            reader = RecordingReader(StaticReader(offline=True))
            result = make(reader)
        else:

            def in_thread(gl: Any) -> tuple[Plan, RecordingReader]:
                ops = GitlabOps(gl, max_retries=self.max_retries)
                recording = RecordingReader(self.reader_factory(ops))
                return make(recording), recording

            result, reader = await self.gateway.call(in_thread, event_uuid=event_uuid)
        self.metrics.rule_eval.observe(time.perf_counter() - started)
        return result, reader


def trace_records(the_plan: Plan) -> list[AuditRecord]:
    records = []
    for trace in the_plan.trace:
        outcome = "error" if trace.error else ("matched" if trace.matched else "not_matched")
        detail: dict[str, Any] = {"reason": trace.reason}
        if trace.error:
            detail["error"] = trace.error
        if trace.subjects:
            detail["subjects"] = trace.subjects
        records.append(AuditRecord(kind="rule", outcome=outcome, detail=detail, rule=trace.rule))
    return records
