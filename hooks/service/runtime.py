"""Assembles the parts that act on events: rules, gateway, bot identity, executor, dispatcher."""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

import structlog

from hooks.actions.executor import Executor
from hooks.approvals.guard import Guard
from hooks.approvals.requests import Approvals
from hooks.backoff import Backoff
from hooks.catchup.jobs import WatchJobs
from hooks.catchup.jobs import build as build_watch_jobs
from hooks.gitlab.gateway import Gateway, error_message
from hooks.gitlab.ops import GitlabOps
from hooks.guards.breaker import Breaker
from hooks.notify.send import Notifier
from hooks.periodic import Periodic
from hooks.processing.processor import BotUser, RulesDispatcher
from hooks.rules.gitlab_reader import AccessCache, GitlabReader, StatusCache
from hooks.rulesource.deliveries import RulesDeliveries
from hooks.rulesource.live import RulesSource
from hooks.rulesource.loaded import LoadedRules
from hooks.rulesource.mr_check import MergeRequestCheck
from hooks.rulesource.once import Once
from hooks.schedules.runner import ScheduleRunner
from hooks.schedules.scheduler import Scheduler
from hooks.service.config import Settings
from hooks.service.metrics import Metrics
from hooks.service.token_expiry import TokenExpiry
from hooks.storage.actions import ActionLog
from hooks.storage.rules_live import RulesLiveStore
from hooks.storage.runs import RunLedger
from hooks.storage.store import Store

log = structlog.get_logger("hooks.runtime")
# Finding the bot user while GitLab is unreachable: 1 s, 2 s, 4 s, ... a minute.
BOT_RETRY = Backoff(base_s=1.0, cap_s=60.0)


class Runtime:
    """The rules pipeline of one process; `start()` resolves the bot user."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        metrics: Metrics,
        *,
        now: Callable[[], datetime],
    ) -> None:
        self.settings = settings
        self.rules = LoadedRules(
            settings.rules_dir, metrics=metrics, approval_setting=settings.approval_project
        )
        self.gateway = Gateway(settings, metrics) if settings.gitlab_token else None
        self.bot: BotUser | None = None
        # Members' access levels, shared by every plan (author_access conditions).
        self.access = AccessCache(ttl_s=settings.member_cache_s)
        # The token's own expiry, read with the bot user and once a day after.
        self.token = TokenExpiry(self.gateway, metrics, now=now)
        self.scheduler: Scheduler | None = None
        self.executor = Executor(
            ActionLog(store),
            self.gateway,
            owner=f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}",
            now=now,
            metrics=metrics,
            lease=timedelta(seconds=settings.lease_seconds),
            health_mode=settings.health_status_mode,
            dry_run=settings.effective_dry_run,
            hourly_cap=settings.subject_hourly_cap,
            parallel=settings.gitlab_threads,
            notifier=notifier_from(settings),
        )
        status_cache = StatusCache(settings.status_cache_s)  # shared by every delivery's reader
        self.dispatcher = RulesDispatcher(
            lambda: self.rules.rules,
            self.executor,
            gateway=self.gateway,
            reader_factory=lambda ops: GitlabReader(ops, status_cache, self.access),
            bot=lambda: self.bot,
            ignore_own_events=settings.ignore_own_events,
            max_retries=settings.gitlab_max_retries,
            metrics=metrics,
            now=now,
            bot_username=settings.bot_username,
        )
        # Approval requests and the guard rails every run passes (limits, approve_above).
        self.approvals = Approvals(
            store,
            self.executor,
            self.gateway,
            gitlab_url=settings.gitlab_url,
            ttl=timedelta(seconds=settings.approval_ttl_s),
            now=now,
        )
        self.dispatcher.approvals = self.approvals
        self.dispatcher.guard = Guard(
            self.approvals, lambda: self.rules.rules, self.executor, now=now
        )
        # Each rule's circuit breaker: counts the executor's outcomes, paused rules plan nothing.
        self.breaker = Breaker(
            store,
            metrics,
            rules=lambda: self.rules.rules,
            gateway=self.gateway,
            now=now,
            alert_project=settings.alert_project,
        )
        self.executor.on_outcomes = self.breaker.record
        self.dispatcher.breaker = self.breaker
        # Rules read from a GitLab project (HOOKS_RULES_PROJECT), with their pushes and
        # merge requests' handlers; None when the rules are the local folder.
        self.rules_source: RulesSource | None = None
        self.rules_deliveries: RulesDeliveries | None = None
        self.periodic = Periodic(now)
        if settings.rules_project and self.gateway is not None:
            self._build_rules_source(store, metrics, now)
        # The webhook watchdog and reconciliation sweep (None without a GitLab token).
        self.watch_jobs: WatchJobs | None = build_watch_jobs(settings, store, metrics, self, now)

    def _build_rules_source(
        self, store: Store, metrics: Metrics, now: Callable[[], datetime]
    ) -> None:
        assert self.gateway is not None
        settings = self.settings
        once = Once(store, owner=self.executor.owner, now=now, lease_s=settings.lease_seconds)
        self.rules_source = RulesSource(
            settings,
            self.rules,
            self.gateway,
            RulesLiveStore(store),
            once,
            metrics=metrics,
            now=now,
        )
        self.rules_source.listeners.append(self._rules_swapped)
        check = MergeRequestCheck(
            self.rules_source,
            store,
            once,
            bot=lambda: self.bot,
            since=timedelta(days=settings.preview_days),
            gitlab_url=settings.gitlab_url,
            default_tz=settings.timezone,
            now=now,
        )
        self.rules_deliveries = RulesDeliveries(self.rules_source, check)

    def build_scheduler(
        self, store: Store, metrics: Metrics, now: Callable[[], datetime]
    ) -> Scheduler:
        """The scheduler of this process, running schedule rules through the same pipeline."""
        runner = ScheduleRunner(
            lambda: self.rules.rules,
            self.dispatcher,
            store,
            default_tz=self.settings.timezone,
            now=now,
        )
        self.scheduler = Scheduler(
            RunLedger(store),
            runner,
            now=now,
            default_tz=self.settings.timezone,
            owner=self.executor.owner,
            on_outcome=lambda rule, outcome: metrics.schedule_runs.labels(rule, outcome).inc(),
        )
        self.sync_schedules()
        return self.scheduler

    def sync_schedules(self) -> None:
        """Give the scheduler the schedule rules now loaded."""
        if self.scheduler is not None and self.rules.rules is not None:
            self.scheduler.set_rules(
                [(r.name, r.on.schedule) for r in self.rules.rules.scheduled() if r.on.schedule]
            )

    async def _rules_swapped(self) -> None:
        """After rules from GitLab went live: the scheduler's jobs, the paused rules."""
        self.sync_schedules()
        await self.rules_reloaded()

    async def rules_reloaded(self) -> list[str]:
        """After the rules were (re)loaded: resume the paused rules whose definition changed."""
        resumed = await self.breaker.rules_loaded(self.rules.rules)
        await self.breaker.refresh(force=True)
        return resumed

    async def start(self) -> None:
        """Find out who the bot is; keep trying in the background if GitLab is unreachable."""
        if self.rules_source is not None:
            await self.rules_source.start()
            interval = self.settings.rules_check_interval_s
            self.periodic.every(
                "rules-source", interval, self.rules_source.converge, first_after_s=interval
            )
        await self.rules_reloaded()  # a rule edited while the service was down resumes
        if self.scheduler is not None:
            await self.scheduler.start()
        if self.gateway is None:
            return
        try:
            await self._resolve_bot()
        except Exception as exc:
            log.warning("could not resolve the bot user yet", error=error_message(exc))
            self._retry_task = asyncio.create_task(self._resolve_bot_later())
        else:
            await self.token.read()
        self.token.start()
        if self.watch_jobs is not None:
            await self.watch_jobs.start()
        interval = self.settings.approvals_interval_s
        if interval > 0:
            # Safe on every replica: each request expires and resumes under a guarded update.
            self.periodic.every(
                "approvals", interval, self.approvals.sweep, first_after_s=min(interval, 10.0)
            )

    async def resolve_bot(self) -> None:
        """Find out who the bot is now (GET /user); raises when GitLab cannot say."""
        await self._resolve_bot()

    async def _resolve_bot(self) -> None:
        assert self.gateway is not None
        user = await self.gateway.call(lambda gl: GitlabOps(gl, max_retries=1).current_user())
        self.bot = BotUser(id=user.get("id"), username=user.get("username"))
        log.info("acting as", bot=self.bot.username)

    async def _resolve_bot_later(self) -> None:
        attempt = 1
        while self.bot is None:
            await asyncio.sleep(BOT_RETRY.delay(attempt))
            try:
                await self._resolve_bot()
            except Exception as exc:
                log.warning("could not resolve the bot user yet", error=error_message(exc))
                attempt += 1
        await self.token.read()

    async def close(self) -> None:
        await self.periodic.stop()
        if self.rules_source is not None:
            self.rules_source.close()
        await self.token.stop()
        if self.watch_jobs is not None:
            await self.watch_jobs.stop()
        if self.scheduler is not None:
            await self.scheduler.stop()
        task = getattr(self, "_retry_task", None)
        if task is not None:
            task.cancel()
        if self.gateway is not None:
            self.gateway.close()


def notifier_from(settings: Settings) -> Notifier | None:
    """The `notify` steps' sender, when any target is configured."""
    if not settings.notify_targets:
        return None
    return Notifier(settings.targets(), timeout_s=settings.notify_timeout_s)
