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

This module is the sweep over scopes and their cursors; issues and milestones are each
reconciled in their own module (`reconcile_issues`, `reconcile_milestones`), and both act
through `reconcile_apply`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta

import structlog

from hooks.catchup.reconcile_apply import Applier
from hooks.catchup.reconcile_issues import reconcile_issues
from hooks.catchup.reconcile_milestones import reconcile_milestones
from hooks.catchup.reconcile_run import Budget, RetryLater, ScopeReport, ScopeRun
from hooks.gitlab.gateway import error_message
from hooks.processing.processor import BotUser, RulesDispatcher
from hooks.rules.model import RuleSet
from hooks.service.metrics import Metrics
from hooks.storage.store import Store
from hooks.storage.watch import CLOCK_SKEW, SLACK

log = structlog.get_logger("hooks.reconcile")


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
        self.applier = Applier(
            rules=rules, dispatcher=dispatcher, store=store, metrics=metrics, bot=bot, now=now
        )
        self.dispatcher = dispatcher
        self.watch = self.applier.watch
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
            budget = Budget(max_items if max_items is not None else self.max_items)
            return await self._sweep(since, budget)

    async def _sweep(self, since: datetime | None, budget: Budget) -> list[ScopeReport]:
        scopes: dict[str, str | None] = {}
        for hook in await self.watch.hooks():
            scopes.setdefault(hook.scope, hook.scope_kind)
        reports = []
        for scope, kind in scopes.items():
            report = ScopeReport(scope)
            with structlog.contextvars.bound_contextvars(scope=scope):
                try:
                    await self._scope(scope, kind or await self._kind(scope), since, budget, report)
                except RetryLater as exc:
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
        kind: str = await self.applier.call(lambda ops: ops.scope_kind(scope))
        return kind

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
        budget: Budget,
        report: ScopeReport,
    ) -> None:
        origin = await self._origin(scope, since)
        cursors = [await self.watch.cursor(scope, k) for k in ("issue", "milestone")]
        issues_from, milestones_from = (since or c or origin for c in cursors)
        seen = await self.watch.coverage(scope, origin - CLOCK_SKEW)
        run = ScopeRun(scope, kind, seen, budget, report, origin)
        await self.watch.advance(scope, "origin", origin, self.now())
        await reconcile_milestones(self.applier, run, milestones_from)
        await reconcile_issues(self.applier, run, issues_from)
        if report.finished:  # the catch-up is done: the next one starts where this one ended
            end = await self.watch.cursor(scope, "issue")
            await self.watch.advance(scope, "origin", end or origin, self.now())
