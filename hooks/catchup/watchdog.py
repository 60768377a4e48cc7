"""The webhook watchdog: notices when GitLab disabled a watched hook, or when it went silent.

GitLab disables a hook after 4 failed deliveries in a row (for good after 40) and drops
events meanwhile. The watchdog reads each watched hook through the API (`alert_status`,
`disabled_until`, recent failed deliveries where GitLab 17.3+ lists them), records what it
read for `/readyz`, the metrics and the dashboard, and, when configured to, re-enables a
disabled hook the way GitLab documents: a test delivery (`POST .../hooks/:id/test/:trigger`).
The default trigger is `push_events`: the service answers it 202 and acts on nothing, where
an issue test would replay a sample issue through the rules. It also notices silence: no
delivery for a while in working hours although the scope's issues changed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import gitlab
import structlog

from hooks.catchup.reconcile_events import gitlab_time, parse_time
from hooks.catchup.resend import Resender
from hooks.gitlab.gateway import Gateway, error_message
from hooks.gitlab.ops import GitlabOps
from hooks.service.metrics import Metrics
from hooks.storage.store import Store
from hooks.storage.watch import WatchedHook, WatchStore

log = structlog.get_logger("hooks.watchdog")

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class WorkingHours:
    """When silence is suspicious: 'mon-fri 09:00-17:00' in a time zone."""

    days: frozenset[int]
    start: time
    end: time
    zone: ZoneInfo

    @classmethod
    def parse(cls, text: str, zone: str) -> WorkingHours:
        """Read 'mon-fri 09:00-17:00' (or 'mon,wed 08:00-12:00'); ValueError when malformed."""
        try:
            days_part, hours_part = text.lower().split()
            days: set[int] = set()
            for item in days_part.split(","):
                first, _, last = item.partition("-")
                a, b = DAYS.index(first), DAYS.index(last or first)
                days.update(range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)])
            start, end = (time.fromisoformat(t) for t in hours_part.split("-"))
        except ValueError as exc:
            raise ValueError(
                f"working hours {text!r}: expected e.g. 'mon-fri 09:00-17:00'"
            ) from exc
        return cls(frozenset(days), start, end, ZoneInfo(zone))

    def contains(self, moment: datetime) -> bool:
        local = moment.astimezone(self.zone)
        return local.weekday() in self.days and self.start <= local.time() < self.end


def parse_watched(text: str) -> list[tuple[str, int]]:
    """'demo/product:12,demo:3' as (scope, hook id) pairs; ValueError when malformed."""
    pairs = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        scope, _, hook_id = item.rpartition(":")
        if not scope or not hook_id.isdigit():
            raise ValueError(f"watched hook {item!r}: expected PATH:HOOK_ID, e.g. demo/product:12")
        pairs.append((scope, int(hook_id)))
    return pairs


class Watchdog:
    """Reads every watched hook; reports, and optionally re-enables, disabled or silent ones."""

    def __init__(
        self,
        *,
        store: Store,
        gateway: Gateway,
        metrics: Metrics,
        now: Callable[[], datetime],
        reenable: bool = False,
        test_trigger: str = "push_events",
        silence_after: timedelta | None = None,
        working_hours: WorkingHours | None = None,
        max_retries: int = 3,
        resender: Resender | None = None,
    ) -> None:
        self.watch = WatchStore(store)
        self.gateway = gateway
        self.metrics = metrics
        self.now = now
        self.reenable = reenable
        self.test_trigger = test_trigger
        self.silence_after = silence_after
        self.working_hours = working_hours
        self.max_retries = max_retries
        self.resender = resender  # resends the failed deliveries GitLab logged

    async def _call(self, fn: Callable[[GitlabOps], Any]) -> Any:
        return await self.gateway.call(lambda gl: fn(GitlabOps(gl, max_retries=self.max_retries)))

    async def check(self) -> list[WatchedHook]:
        """Check every watched hook once; return them as now recorded."""
        for hook in await self.watch.hooks():
            with structlog.contextvars.bound_contextvars(hook=hook.name):
                await self._check(hook)
        return await self.watch.hooks()

    async def _check(self, hook: WatchedHook) -> None:
        now = self.now()
        values: dict[str, Any] = {"checked_at": now}
        try:
            kind = hook.scope_kind or await self._call(lambda ops: ops.scope_kind(hook.scope))
            values["scope_kind"] = kind
            data = await self._call(lambda ops: ops.hook(kind, hook.scope, hook.hook_id))
        except gitlab.exceptions.GitlabError as exc:
            status = "missing" if exc.response_code == 404 else "error"
            detail = "GitLab has no such hook" if status == "missing" else error_message(exc)
            log.warning("watched hook unreadable", status=status, detail=detail)
            await self.watch.update_hook(hook.id, alert_status=status, detail=detail, **values)
            return
        status = str(data.get("alert_status") or "executable")
        until = parse_time(data.get("disabled_until"))
        disabled = status != "executable" or (until is not None and until > now)
        values.update(alert_status=status, disabled_until=until, detail=None)
        failures = await self._failures(kind, hook)
        values["recent_failures"] = None if failures is None else len(failures)
        if disabled:
            log.warning(
                "webhook disabled by GitLab", alert_status=status, disabled_until=str(until)
            )
            if self.reenable:
                disabled = await self._reenable(kind, hook, values)
        elif self.silence_after is not None:
            values["silent_since"] = await self._silence(kind, hook, now)
        if disabled:
            values["silent_since"] = None
        elif failures:  # before any sweep rebuilds what these deliveries carried
            resent = await self._resend(kind, hook, failures)
            if resent:
                values["detail"] = "; ".join(filter(None, (values.get("detail"), resent)))
        self.metrics.webhook_disabled.labels(hook.name).set(1 if disabled else 0)
        self.metrics.webhook_silent.labels(hook.name).set(1 if values.get("silent_since") else 0)
        await self.watch.update_hook(hook.id, **values)

    async def _failures(self, kind: str, hook: WatchedHook) -> list[dict[str, Any]] | None:
        """Failed deliveries GitLab still lists, or None where the API does not list them."""
        try:
            found: list[dict[str, Any]] = await self._call(
                lambda ops: ops.hook_failures(kind, hook.scope, hook.hook_id)
            )
        except gitlab.exceptions.GitlabError:
            return None
        return found

    async def _resend(
        self, kind: str, hook: WatchedHook, failures: list[dict[str, Any]]
    ) -> str | None:
        if self.resender is None:
            return None
        try:
            return (await self.resender.resend(kind, hook, failures)).detail()
        except Exception as exc:  # the hook's status is still worth recording; next pass retries
            log.warning("resending failed deliveries failed", error=f"{type(exc).__name__}: {exc}")
            return f"resending failed: {type(exc).__name__}"

    async def resend_failed(self) -> None:
        """Resend every enabled watched hook's failed deliveries (before a sweep runs)."""
        if self.resender is None:
            return
        for hook in await self.watch.hooks():
            if hook.disabled(self.now()):
                continue  # GitLab would refuse: the watchdog's pass re-enables it first
            with structlog.contextvars.bound_contextvars(hook=hook.name):
                await self._resend_hook(hook)

    async def _resend_hook(self, hook: WatchedHook) -> None:
        try:
            kind = hook.scope_kind or await self._call(lambda ops: ops.scope_kind(hook.scope))
        except gitlab.exceptions.GitlabError:
            return  # the watchdog's pass reports an unreadable hook
        failures = await self._failures(kind, hook)
        if failures:
            await self._resend(kind, hook, failures)

    async def _reenable(self, kind: str, hook: WatchedHook, values: dict[str, Any]) -> bool:
        """Send GitLab's test delivery; True while the hook is still disabled afterwards."""
        try:
            await self._call(
                lambda ops: ops.test_hook(kind, hook.scope, hook.hook_id, self.test_trigger)
            )
            data = await self._call(lambda ops: ops.hook(kind, hook.scope, hook.hook_id))
        except gitlab.exceptions.GitlabError as exc:
            values["detail"] = f"re-enabling failed: {error_message(exc)}"
            log.warning("webhook re-enable failed", error=error_message(exc))
            return True
        status = str(data.get("alert_status") or "executable")
        values.update(alert_status=status, disabled_until=parse_time(data.get("disabled_until")))
        if status != "executable":
            values["detail"] = f"test delivery sent; GitLab still reports {status}"
            return True
        values["reenabled_at"] = self.now()
        values["detail"] = (
            "re-enabled by a test delivery; reconciliation catches up on what was dropped"
        )
        self.metrics.webhook_reenabled.labels(hook.name).inc()
        log.warning("webhook re-enabled", trigger=self.test_trigger)
        return False

    async def _silence(self, kind: str, hook: WatchedHook, now: datetime) -> datetime | None:
        """Since when the hook is silent although its scope changes, or None."""
        assert self.silence_after is not None
        if self.working_hours is not None and not self.working_hours.contains(now):
            return hook.silent_since  # outside working hours silence proves nothing either way
        last = await self.watch.last_delivery_at(hook.scope)
        if last is not None and now - last <= self.silence_after:
            return None
        since = now - self.silence_after
        changed = await self._call(
            lambda ops: ops.first_page(
                f"{ops.scope_path(kind, hook.scope)}/issues",
                updated_after=gitlab_time(since),
                per_page=1,
                state="all",
            )
        )
        if not changed:
            return None
        log.warning("webhook silent while GitLab changes", last_delivery=str(last))
        return hook.silent_since or now


async def hook_statuses(store: Store, now: datetime) -> list[dict[str, Any]]:
    """The watched hooks as the dashboard and `/readyz` show them."""
    return [{**h.as_dict(), "disabled": h.disabled(now)} for h in await WatchStore(store).hooks()]
