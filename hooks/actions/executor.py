"""The executor: performs planned actions on GitLab, each one once.

For every action the ledger row (its idempotency key) is written before the GitLab call
and its result after. What the bot creates carries `<!-- hooks:KEY -->`, so an attempt
resumed after a crash between the write and the record finds the comment or issue it
made and does not make a second one. Actions already true on GitLab make no write.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

import structlog

from hooks.actions.base import PlannedAction, Status
from hooks.actions.base import Snapshot as Snapshot  # where it was before hooks.actions
from hooks.actions.executor_effects import TRANSIENT, Performer
from hooks.gitlab.gateway import Gateway, error_message, is_permanent
from hooks.gitlab.ops import GitlabOps
from hooks.notify.send import Notifier
from hooks.service.metrics import Metrics
from hooks.storage.actions import ActionLog, ActionRow, Claim, ClaimRequest, Finish
from hooks.storage.records import AuditRecord

log = structlog.get_logger("hooks.executor")

HealthMode = Literal["label", "native", "both"]


@dataclass(frozen=True)
class ActionOutcome:
    """How one planned action ended, for the audit trail and the delivery's outcome."""

    action: PlannedAction
    status: Status
    result: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    earlier: bool = False  # finished by an earlier attempt or delivery

    @property
    def ok(self) -> bool:
        return self.status in ("done", "satisfied", "dry_run")

    def audit(self) -> AuditRecord:
        a = self.action
        detail: dict[str, Any] = {
            "action": a.action,
            "key": a.key,
            "params": a.params,
            "result": self.result,
        }
        if a.text is not None:
            detail["text"] = a.text
        if self.error:
            detail["error"] = self.error
        if self.earlier:
            detail["earlier"] = True
        return AuditRecord(
            kind="action", outcome=self.status, detail=detail, subject=a.subject, rule=a.rule
        )


class TransientFailure(Exception):
    """An action could not complete now; trying the delivery again later may succeed."""


@dataclass
class ExecutionContext:
    """Where a batch of actions comes from, for the ledger and the API's loop guard."""

    delivery_id: int | None = None
    run_key: str | None = None
    event_uuid: str | None = None
    snapshots: dict[str, Snapshot] = field(default_factory=dict)


class Executor:
    """Runs plans: subjects in parallel (bounded), each subject's actions in order."""

    def __init__(
        self,
        log_: ActionLog,
        gateway: Gateway | None,
        *,
        owner: str,
        now: Callable[[], datetime],
        metrics: Metrics | None = None,
        lease: timedelta = timedelta(seconds=60),
        health_mode: HealthMode = "label",
        dry_run: bool = False,
        hourly_cap: int = 30,
        parallel: int = 8,
        notifier: Notifier | None = None,
    ) -> None:
        self.ledger = log_
        self.gateway = gateway
        self.owner = owner
        self.now = now
        self.metrics = metrics or Metrics()
        self.lease = lease
        self.health_mode = health_mode
        self.dry_run = dry_run or gateway is None
        self.hourly_cap = hourly_cap
        self._slots = asyncio.Semaphore(parallel)
        self._user_ids: dict[str, int] = {}
        self.notifier = notifier
        # Told every run's outcomes (the circuit breaker counts each rule's failures).
        self.on_outcomes: Callable[[list[ActionOutcome]], Awaitable[None]] | None = None

    async def run(
        self, planned: Sequence[PlannedAction], context: ExecutionContext
    ) -> list[ActionOutcome]:
        """Perform every action; if any must be retried, raise TransientFailure at the end."""
        if not planned:
            return []
        now = self.now()
        # Each run claims under an owner of its own: two deliveries of one event in this
        # process must not both take the same action as "theirs" and both perform it.
        owner = f"{self.owner}/{uuid.uuid4().hex[:8]}"
        claims = await self.ledger.claim_many(
            [
                ClaimRequest(
                    a.key,
                    a.rule,
                    a.action,
                    a.subject,
                    a.params,
                    context.delivery_id,
                    context.run_key,
                )
                for a in planned
            ],
            owner=owner,
            lease=self.lease,
            now=now,
            recent_since=now - timedelta(hours=1),
        )
        held = [key for key, (claim, _row, _recent) in claims.items() if claim in ("new", "resume")]
        groups: dict[str, list[int]] = {}
        for index, action in enumerate(planned):
            groups.setdefault(action.subject or f"#{index}", []).append(index)
        outcomes: list[ActionOutcome | None] = [None] * len(planned)
        seen: set[str] = set()
        pending = _Finishes(self.ledger, owner)

        async def run_group(indexes: list[int]) -> None:
            async with self._slots:
                for i in indexes:
                    action = planned[i]
                    if action.key in seen:  # the same once-group twice in one plan
                        outcomes[i] = ActionOutcome(action, "satisfied", earlier=True)
                        continue
                    seen.add(action.key)
                    outcomes[i] = await self._one(action, context, claims[action.key], pending)

        keeper = asyncio.create_task(self._keep_leases(held, owner))
        try:
            await asyncio.gather(*(run_group(g) for g in groups.values()))
        finally:
            try:
                await pending.flush()
            finally:
                keeper.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await keeper
        done = [o for o in outcomes if o is not None]
        if self.on_outcomes is not None:
            await self.on_outcomes(done)
        retry = [o for o in done if o.status in ("retry", "busy")]
        if retry:
            first = retry[0]
            raise TransientFailure(
                f"{len(retry)} action(s) to retry; first: {first.action.rule}/"
                f"{first.action.action} on {first.action.subject}: {first.error}"
            )
        return done

    async def _keep_leases(self, keys: list[str], owner: str) -> None:
        # A plan can outlast the lease (a slow GitLab, a long roll-over): while this run is
        # alive nobody may take its actions over, or both would perform them.
        period = max(self.lease.total_seconds() / 3, 0.05)
        while keys:
            await asyncio.sleep(period)
            try:
                await self.ledger.extend(keys, owner, self.now() + self.lease)
            except Exception as exc:  # the database briefly away: the next beat tries again
                log.warning("could not extend action leases", error=str(exc))

    async def _one(
        self,
        action: PlannedAction,
        context: ExecutionContext,
        claimed: tuple[Claim, ActionRow | None, int],
        pending: _Finishes,
    ) -> ActionOutcome:
        outcome = await self._claim_and_perform(action, context, claimed, pending)
        self.metrics.actions.labels(action.action, outcome.status).inc()
        log.info(
            "action",
            rule=action.rule,
            action=action.action,
            subject=action.subject,
            status=outcome.status,
            error=outcome.error,
        )
        return outcome

    async def _claim_and_perform(
        self,
        action: PlannedAction,
        context: ExecutionContext,
        claimed: tuple[Claim, ActionRow | None, int],
        pending: _Finishes,
    ) -> ActionOutcome:
        now = self.now()
        claim, row, recent = claimed
        if claim == "finished":
            return _earlier(action, row)
        if claim == "busy":
            return ActionOutcome(action, "busy", error="another worker is performing it")
        if self.dry_run or action.dry_run:
            would = {"would": action.action, "params": action.params}
            await pending.add(Finish(action.key, "dry_run", now, would))
            return ActionOutcome(action, "dry_run", would)
        if action.subject and recent >= self.hourly_cap:
            why = f"more than {self.hourly_cap} writes to {action.subject} in the last hour"
            await pending.add(Finish(action.key, "capped", now, error=why))
            return ActionOutcome(action, "capped", error=why)
        try:
            status, result = await self._perform(action, context, resumed=claim == "resume")
        except TRANSIENT as exc:
            message = error_message(exc)
            if is_permanent(exc):
                await pending.add(Finish(action.key, "failed", self.now(), error=message))
                return ActionOutcome(action, "failed", error=message)
            await pending.add(Finish(action.key, "retry", self.now(), error=message))
            return ActionOutcome(action, "retry", error=message)
        except ValueError as exc:  # a plan the executor cannot carry out, e.g. unknown user
            await pending.add(Finish(action.key, "failed", self.now(), error=str(exc)))
            return ActionOutcome(action, "failed", error=str(exc))
        await pending.add(Finish(action.key, status, self.now(), result))
        return ActionOutcome(action, status, result)

    async def _perform(
        self, action: PlannedAction, context: ExecutionContext, *, resumed: bool
    ) -> tuple[Status, dict[str, Any]]:
        assert self.gateway is not None
        return await self.gateway.call(
            lambda gl: Performer(
                GitlabOps(gl),
                health_mode=self.health_mode,
                users=self._user_ids,
                snapshots=context.snapshots,
                notifier=self.notifier,
            ).perform(action, resumed=resumed),
            event_uuid=context.event_uuid,
        )


class _Finishes:
    """Outcomes recorded in small batches: one transaction per batch, not per action.

    Safe to delay: an action whose record is lost in a crash is resumed, and resuming looks
    for its marker (creations) or finds the change already made (edits).
    """

    BATCH = 32

    def __init__(self, ledger: ActionLog, owner: str) -> None:
        self.ledger = ledger
        self.owner = owner
        self.items: list[Finish] = []
        self.lock = asyncio.Lock()

    async def add(self, item: Finish) -> None:
        self.items.append(item)
        if len(self.items) >= self.BATCH:
            await self.flush()

    async def flush(self) -> None:
        async with self.lock:
            batch, self.items = self.items, []
            await self.ledger.finish_many(batch, self.owner)


def _earlier(action: PlannedAction, row: ActionRow | None) -> ActionOutcome:
    status: Status = "satisfied" if row is None or row.status == "satisfied" else "done"
    return ActionOutcome(action, status, (row.result if row else None) or {}, earlier=True)
