"""Reconciliation: do once what GitLab's dropped webhooks would have done.

For each watched scope (a project or group with a watched hook), issues and milestones
updated since the cursor (or, the first time, since the last delivery seen) are listed
oldest first (`updated_after`, `order_by=updated_at`). A change a stored delivery or an
earlier reconciliation covers is skipped (see `hooks.storage.watch`); any other is rebuilt
into the event GitLab would have sent (open/close/update for issues, create/close for
milestones; label changes from resource label events) and planned against the rules that
can run on it, then executed with the same executor and idempotency ledger as a delivery.
The cursor moves after each item, so a sweep stopped by its budget or a restart resumes.
Every GitLab call goes through the gateway, i.e. the process's shared rate budget.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import structlog

from hooks.actions.base import Snapshot
from hooks.actions.executor import ActionOutcome, ExecutionContext, TransientFailure
from hooks.actions.registry import KINDS
from hooks.catchup.reconcile_events import (
    gitlab_time,
    issue_event,
    milestone_event,
    parse_time,
    previous_labels,
)
from hooks.events import Event
from hooks.gitlab.gateway import error_message
from hooks.gitlab.ops import GitlabOps
from hooks.processing.processor import BotUser, RulesDispatcher, snapshot_of, trace_records
from hooks.rules.engine import not_triggered, plan
from hooks.rules.keys import digest
from hooks.rules.model import Rule, RuleSet
from hooks.rules.reader import IssueInfo, MilestoneInfo, Reader
from hooks.rules.reconcilable import needs_label_history, not_reconcilable
from hooks.service.metrics import Metrics
from hooks.storage.records import AuditRecord
from hooks.storage.store import Store
from hooks.storage.watch import (
    CLOCK_SKEW,
    SLACK,
    WatchStore,
    covers,
    milestone_subject,
)

log = structlog.get_logger("hooks.reconcile")

PAGE = 100


@dataclass
class ScopeReport:
    """What one sweep did for one watched scope."""

    scope: str
    applied: int = 0
    skipped: int = 0
    not_reconcilable: int = 0
    failed: int = 0
    finished: bool = True  # False: the budget ran out or a failure stopped it; resumes later
    cursor: str | None = None
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class _Budget:
    left: int


@dataclass
class _ScopeRun:
    """One scope's share of a sweep: what it reads once and what it reports."""

    scope: str
    kind: str
    seen: dict[str, datetime]  # per subject, the latest updated_at in stored deliveries
    budget: _Budget
    report: ScopeReport
    origin: datetime  # the start of the catch-up: changes before it were answered already
    cache: dict[tuple[str, str], Any] = field(default_factory=dict)

    def last_seen(self, subject: str, reconciled: dict[str, datetime]) -> datetime | None:
        """The latest state of the subject a delivery or a reconciliation covered."""
        return max(
            (t for t in (self.seen.get(subject), reconciled.get(subject)) if t), default=None
        )

    def spend(self) -> bool:
        """Take one item from the budget; False (and unfinished) when none is left."""
        if self.budget.left <= 0:
            self.report.finished = False
            return False
        self.budget.left -= 1
        return True

    def skipped(self, metrics: Metrics) -> None:
        self.report.skipped += 1
        metrics.reconcile_items.labels("skipped").inc()


class _RetryLater(Exception):
    """GitLab was briefly unavailable for this item: stop here, the cursor stays before it."""


class SweepReader:
    """The plan's reader, with milestones and iterations read once per sweep, not per item."""

    def __init__(self, inner: Reader, cache: dict[tuple[str, str], Any]) -> None:
        self.inner = inner
        self.cache = cache

    def _once(
        self, what: str, project: str, read: Callable[[str], list[MilestoneInfo]]
    ) -> list[MilestoneInfo]:
        key = (what, project)
        if key not in self.cache:
            self.cache[key] = read(project)
        found: list[MilestoneInfo] = self.cache[key]
        return found

    def milestones(self, project: str) -> list[MilestoneInfo]:
        return self._once("milestones", project, self.inner.milestones)

    def group_milestones(self, group: str) -> list[MilestoneInfo]:
        return self._once("group_milestones", group, self.inner.group_milestones)

    def iterations(self, project: str) -> list[MilestoneInfo]:
        return self._once("iterations", project, self.inner.iterations)

    def milestone_issues(
        self, project: str, milestone: MilestoneInfo, state: str = "opened"
    ) -> list[IssueInfo]:
        return self.inner.milestone_issues(project, milestone, state)

    def issue(self, project: str, iid: int) -> IssueInfo:
        return self.inner.issue(project, iid)

    def issues(self, project: str, query: dict[str, Any]) -> list[IssueInfo]:
        return self.inner.issues(project, query)


class Reconciler:
    """Sweeps the watched scopes; one instance per process, runs claimed via the run ledger."""

    def __init__(
        self,
        *,
        rules: Callable[[], RuleSet | None],
        dispatcher: RulesDispatcher,
        store: Store,
        metrics: Metrics,
        bot: Callable[[], BotUser | None],
        now: Callable[[], datetime],
        require_bot: bool = True,
        max_items: int = 500,
        lookback: timedelta = timedelta(days=1),
    ) -> None:
        self.require_bot = require_bot
        self._sweeping = asyncio.Lock()
        self.rules = rules
        self.dispatcher = dispatcher
        self.store = store
        self.watch = WatchStore(store)
        self.metrics = metrics
        self.bot = bot
        self.now = now
        self.max_items = max_items
        self.lookback = lookback

    # -- the sweep --------------------------------------------------------------------

    async def sweep(
        self, *, since: datetime | None = None, max_items: int | None = None
    ) -> list[ScopeReport]:
        """One budgeted pass over every watched scope, oldest changes first."""
        if self.dispatcher.gateway is None:
            raise RuntimeError("reconciliation reads GitLab: set HOOKS_GITLAB_TOKEN")
        if self.require_bot and self.bot() is None:
            # Acting before knowing who the bot is could answer its own changes.
            raise RuntimeError("the bot user is not known yet (GET /user failed)")
        async with self._sweeping:  # one sweep at a time in a process (timer, after re-enable)
            budget = _Budget(max_items if max_items is not None else self.max_items)
            return await self._sweep(since, budget)

    async def _sweep(self, since: datetime | None, budget: _Budget) -> list[ScopeReport]:
        scopes: dict[str, str | None] = {}
        for hook in await self.watch.hooks():
            scopes.setdefault(hook.scope, hook.scope_kind)
        reports = []
        for scope, kind in scopes.items():
            report = ScopeReport(scope)
            with structlog.contextvars.bound_contextvars(scope=scope):
                try:
                    await self._scope(scope, kind or await self._kind(scope), since, budget, report)
                except _RetryLater as exc:
                    report.finished = False
                    report.errors.append(str(exc))
                except Exception as exc:  # one scope's failure must not stop the others
                    report.finished = False
                    report.errors.append(error_message(exc))
                    log.warning("reconcile scope failed", error=error_message(exc))
            log.info("reconciled", **report.as_dict())
            reports.append(report)
        return reports

    async def _kind(self, scope: str) -> str:
        kind: str = await self._call(lambda ops: ops.scope_kind(scope))
        return kind

    async def _call(self, fn: Callable[[GitlabOps], Any]) -> Any:
        assert self.dispatcher.gateway is not None
        retries = self.dispatcher.max_retries
        return await self.dispatcher.gateway.call(lambda gl: fn(GitlabOps(gl, max_retries=retries)))

    async def _origin(self, scope: str, since: datetime | None) -> datetime:
        """Where the catch-up under way began: the window of changes it answers for.

        It stays put over the budgeted runs of one catch-up, so a label change made early in
        an outage still counts when its issue is reached runs later, and moves to the cursor
        once a sweep finishes.
        """
        if since is not None:
            return since
        origin = await self.watch.cursor(scope, "origin")
        if origin is not None:
            return origin
        last = await self.watch.last_delivery_at(scope)
        return last - SLACK if last is not None else self.now() - self.lookback

    async def _scope(
        self,
        scope: str,
        kind: str,
        since: datetime | None,
        budget: _Budget,
        report: ScopeReport,
    ) -> None:
        origin = await self._origin(scope, since)
        cursors = [await self.watch.cursor(scope, k) for k in ("issue", "milestone")]
        issues_from, milestones_from = (since or c or origin for c in cursors)
        seen = await self.watch.coverage(scope, origin - CLOCK_SKEW)
        run = _ScopeRun(scope, kind, seen, budget, report, origin)
        await self.watch.advance(scope, "origin", origin, self.now())
        await self._milestones(run, milestones_from)
        await self._issues(run, issues_from)
        if report.finished:  # the catch-up is done: the next one starts where this one ended
            end = await self.watch.cursor(scope, "issue")
            await self.watch.advance(scope, "origin", end or origin, self.now())

    # -- issues -------------------------------------------------------------------------

    async def _issues(self, run: _ScopeRun, start: datetime) -> None:
        report = run.report
        cursor, page = start, 1
        # Issues at the cursor's own time already handled: a re-read from the cursor lists
        # those the sweep did not edit again.
        visited: set[int] = set()
        while True:
            # Always from the cursor, not by offset: items this sweep edits move to the end of
            # the order, and an offset would then skip as many unvisited ones.
            query = {
                "updated_after": gitlab_time(cursor),
                "order_by": "updated_at",
                "sort": "asc",
                "state": "all",
                "per_page": PAGE,
                "page": page,
            }
            batch = await self._page(run.kind, run.scope, query)
            if not batch:
                report.cursor = gitlab_time(cursor)
                return
            infos = [IssueInfo.from_rest(r) for r in batch]
            done_before = await self.watch.reconciled(i.subject for i in infos)
            advanced = acted = False
            for raw, info in zip(batch, infos, strict=True):
                changed_at = parse_time(raw.get("updated_at")) or cursor
                if changed_at == cursor and raw["id"] in visited:
                    continue
                last = run.last_seen(info.subject, done_before)
                if covers(last, changed_at):
                    run.skipped(self.metrics)
                else:
                    if not run.spend():
                        report.cursor = gitlab_time(cursor)
                        return
                    await self._issue(run, raw, info, changed_at, last)
                    acted = True
                if changed_at > cursor:
                    cursor, advanced = changed_at, True
                    visited.clear()
                    await self.watch.advance(run.scope, "issue", cursor, self.now())
                visited.add(raw["id"])
            if len(batch) < PAGE:
                report.cursor = gitlab_time(cursor)
                return
            # A full page all at the cursor's own time: step past it by offset, but only when
            # nothing on it was acted on. An edited issue leaves for the end of the order, and
            # the offset would then pass over as many unvisited ones at that time (a bulk edit,
            # or a backlog created within one millisecond, puts more than a page there).
            page = 1 if advanced or acted else page + 1

    async def _page(self, kind: str, scope: str, query: dict[str, Any]) -> list[dict[str, Any]]:
        def read(ops: GitlabOps) -> list[dict[str, Any]]:
            return ops.first_page(f"{ops.scope_path(kind, scope)}/issues", **query)

        found: list[dict[str, Any]] = await self._call(read)
        return found

    async def _issue(
        self,
        run: _ScopeRun,
        raw: dict[str, Any],
        info: IssueInfo,
        changed_at: datetime,
        last_seen: datetime | None,
    ) -> None:
        ruleset = self.rules()
        if ruleset is None:
            raise _RetryLater("no rules loaded")
        created = parse_time(raw.get("created_at"))
        closed = parse_time(raw.get("closed_at"))
        after = last_seen or run.origin
        events: list[tuple[str, dict[str, Any]]] = []
        opened_here = last_seen is None and created is not None and created >= run.origin
        if opened_here:
            events.append(("open", {}))
        if not opened_here or changed_at > (created or changed_at):
            action = "close" if info.state == "closed" and closed and closed > after else "update"
            events.append((action, {}))
        bot = self.bot()
        author = (raw.get("author") or {}).get("username")
        records: list[AuditRecord] = []
        outcomes: list[ActionOutcome] = []
        blocked: dict[str, str] = {}
        snapshots = {info.subject: Snapshot.from_rest(raw)}
        for action, changes in events:
            if action == "open" and bot is not None and author == bot.username:
                records.append(_note("ignored", "opened by the bot's own user; loop guard"))
                continue
            probe = issue_event(raw, info, action, changes)
            listening = _listening(ruleset, probe)
            skip = {r.name: why for r in listening if (why := not_reconcilable(r))}
            if action != "open" and any(
                needs_label_history(r, info.labels) for r in listening if r.name not in skip
            ):
                try:
                    history = await self._call(
                        lambda ops: ops.label_events(info.project_path, info.iid)
                    )
                except Exception as exc:
                    why = f"not reconcilable: label history unavailable ({error_message(exc)})"
                    skip.update(
                        (r.name, why) for r in listening if needs_label_history(r, info.labels)
                    )
                else:
                    own = bot.username if bot else None
                    before = previous_labels(info.labels, history, after, ignore=own)
                    if sorted(before) != sorted(info.labels):
                        changes = {
                            "labels": {
                                "previous": [{"title": t} for t in before],
                                "current": [{"title": t} for t in info.labels],
                            }
                        }
            event = issue_event(raw, info, action, changes)
            # Named by where the change starts (what was last seen of the issue, or its
            # creation), not by updated_at: a sweep that acted and died before recording it
            # finds updated_at moved by its own writes, and must plan the same keys again.
            since = created if action == "open" else after
            # The change is what was added and removed: the lists around it also hold the
            # bot's own labels, which a resumed sweep sees and the first one did not.
            added, removed = event.changed_labels()
            change = (sorted(added), sorted(removed))
            fingerprint = "reconcile:" + digest(event.kind, action, raw.get("id"), since, change)
            blocked.update(skip)
            records.append(
                AuditRecord(
                    kind="event",
                    outcome="reconciled",
                    detail={
                        "action": action,
                        "updated_at": raw.get("updated_at"),
                        "changes": changes,
                    },
                    subject=info.subject,
                )
            )
            outcomes += await self._execute(
                run, event, ruleset, fingerprint, skip, snapshots, records
            )
        # The bot's own change first: it covers this one too, should the next line not happen.
        await self._own_writes(info, raw, snapshots, outcomes)
        await self._finish(run, info.subject, changed_at, blocked, records, outcomes)

    async def _own_writes(
        self,
        info: IssueInfo,
        raw: dict[str, Any],
        snapshots: dict[str, Snapshot],
        outcomes: list[ActionOutcome],
    ) -> None:
        """Record the bot's own change of the subject, so the next sweep does not redo it."""
        wrote = [
            o
            for o in outcomes
            if o.status == "done" and not o.earlier and o.action.subject == info.subject
        ]
        if not wrote:
            return
        health_mode = self.dispatcher.executor.health_mode
        # Writes through `PUT /issues/:iid` only: its answer carries the new updated_at.
        rest_only = all(
            (kind := KINDS.get(o.action.action)) is not None
            and kind.rest_only(kind.typed(o.action.args), health_mode)
            for o in wrote
        )
        new = snapshots[info.subject].updated_at
        if not rest_only or new in (None, raw.get("updated_at")):
            # A note or a GraphQL write also moves updated_at; only a read tells where to.
            fresh = await self._call(lambda ops: ops.issue(info.project_path, info.iid))
            new = fresh.get("updated_at")
        at = parse_time(new)
        if at is not None:
            await self.watch.mark_reconciled([(info.subject, at, "own_write")], self.now())

    # -- milestones -------------------------------------------------------------------

    async def _milestones(self, run: _ScopeRun, start: datetime) -> None:
        scope, kind = run.scope, run.kind
        query: dict[str, Any] = {"updated_after": gitlab_time(start)}
        if kind == "project":
            query["include_ancestors"] = "true"

        def listed(ops: GitlabOps) -> list[dict[str, Any]]:
            read = ops.group_milestones if kind == "group" else ops.project_milestones
            return read(scope, **query)

        found = sorted(
            await self._call(listed),
            key=lambda m: (m.get("updated_at") or "", m["id"]),
        )
        done_before = await self.watch.reconciled(milestone_subject(m["id"]) for m in found)
        ruleset = self.rules()
        if ruleset is None:
            raise _RetryLater("no rules loaded")
        for raw in found:
            subject = milestone_subject(raw["id"])
            changed_at = parse_time(raw.get("updated_at")) or start
            last = run.last_seen(subject, done_before)
            if covers(last, changed_at):
                run.skipped(self.metrics)
                await self.watch.advance(scope, "milestone", changed_at, self.now())
                continue
            if not run.spend():
                return
            created = parse_time(raw.get("created_at"))
            actions = []
            if last is None and created is not None and created >= run.origin:
                actions.append("create")
            if raw.get("state") == "closed":
                actions.append("close")
            records: list[AuditRecord] = []
            outcomes: list[ActionOutcome] = []
            blocked: dict[str, str] = {}
            if not actions:
                # An edit or a reopen: GitLab keeps no history telling which.
                probe = milestone_event(raw, scope, "reopen")
                for rule in _listening(ruleset, probe):
                    blocked[rule.name] = "not reconcilable: cannot tell a reopen from an edit"
            for action in actions:
                event = milestone_event(raw, scope, action)
                skip = {
                    r.name: why for r in _listening(ruleset, event) if (why := not_reconcilable(r))
                }
                blocked.update(skip)
                records.append(
                    AuditRecord(
                        kind="event",
                        outcome="reconciled",
                        detail={"action": action, "updated_at": raw.get("updated_at")},
                        subject=subject,
                    )
                )
                fingerprint = "reconcile:" + digest("milestone", action, raw["id"], changed_at)
                outcomes += await self._execute(run, event, ruleset, fingerprint, skip, {}, records)
            await self._finish(run, subject, changed_at, blocked, records, outcomes)
            await self.watch.advance(scope, "milestone", changed_at, self.now())

    # -- shared ---------------------------------------------------------------------------

    async def _execute(
        self,
        run: _ScopeRun,
        event: Event,
        ruleset: RuleSet,
        fingerprint: str,
        skip: dict[str, str],
        snapshots: dict[str, Snapshot],
        records: list[AuditRecord],
    ) -> list[ActionOutcome]:
        now = self.now()

        def skipped(rule: Rule) -> str | None:
            return skip.get(rule.name)

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
            raise _RetryLater(f"reading GitLab failed: {reader.transient}")
        records.extend(trace_records(the_plan))
        for subject, issue in reader.seen.items():
            snapshots.setdefault(subject, snapshot_of(issue))
        context = ExecutionContext(run_key=f"reconcile:{event.subject}", snapshots=snapshots)
        try:
            outcomes = await self.dispatcher.executor.run(the_plan.actions, context)
        except TransientFailure as exc:
            raise _RetryLater(str(exc)) from exc
        records.extend(o.audit() for o in outcomes)
        return outcomes

    async def _finish(
        self,
        run: _ScopeRun,
        subject: str,
        changed_at: datetime,
        blocked: dict[str, str],
        records: list[AuditRecord],
        outcomes: list[ActionOutcome],
    ) -> None:
        """Audit the item, count it, and record its change as handled."""
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
        await self.store.add_audit(records, self.now(), run_key=key)
        outcome = "not_reconcilable" if blocked and not outcomes else "applied"
        await self.watch.mark_reconciled([(subject, changed_at, outcome)], self.now())


def _listening(ruleset: RuleSet, event: Event) -> list[Rule]:
    """The enabled rules this event triggers."""
    return [r for r in ruleset.rules if r.enabled and not not_triggered(r.on, event)]


def _note(outcome: str, reason: str) -> AuditRecord:
    return AuditRecord(kind="event", outcome=outcome, detail={"reason": reason})
