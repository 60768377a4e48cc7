"""Webhooks sent back like GitLab sends them: headers, payload shapes, recursion detection,
and auto-disabling after failures (4 in a row: for a while; 40: for good)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp

from hooks.backoff import Backoff
from hooks.testing.waiting import NotInTime, eventually_sync

EVENT_FLAGS = {
    "Issue Hook": "issues_events",
    "Confidential Issue Hook": "confidential_issues_events",
    "Release Hook": "releases_events",
    "Milestone Hook": "milestone_events",
    "Note Hook": "note_events",
    "Confidential Note Hook": "confidential_note_events",
    "Emoji Hook": "emoji_events",
    "Push Hook": "push_events",
    "Merge Request Hook": "merge_requests_events",
}
TRIGGERS = {  # WebHookLog.trigger values GitLab reports for each event
    "Issue Hook": "issue_hooks",
    "Confidential Issue Hook": "confidential_issue_hooks",
    "Release Hook": "release_hooks",
    "Milestone Hook": "milestone_hooks",
    "Note Hook": "note_hooks",
    "Confidential Note Hook": "confidential_note_hooks",
    "Emoji Hook": "emoji_hooks",
    "Push Hook": "push_hooks",
    "Merge Request Hook": "merge_request_hooks",
}
LOG_SIZE = 100
# GitLab's limit on POST .../hooks/:hook_id/events/:id/resend, per hook parent and user
# (Gitlab::ApplicationRateLimiter :web_hook_event_resend: threshold 5, interval 1 minute).
RESEND_LIMIT = 5
RESEND_WINDOW_S = 60.0


def _digest(payload: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


TEMPORARY_FAILURES = 4
PERMANENT_FAILURES = 40
# GitLab disables a failing hook for 1, 2, 4, ... minutes, at most a day.
DISABLE_BACKOFF = Backoff(base_s=60.0, cap_s=86400.0)


@dataclass(frozen=True)
class SentDelivery:
    hook_id: int
    url: str
    event: str
    headers: dict[str, str]
    body: dict[str, Any]
    status: int | str  # HTTP status, "dropped" (hook disabled) or an error name


class WebhookSender:
    """Queues deliveries per hook and sends them in order from the simulator's loop."""

    def __init__(self, instance_url: str) -> None:
        self.instance_url = instance_url
        self.public_url = instance_url  # set to the served address once it is known
        self.recursion_detection = True
        self.sent: list[SentDelivery] = []
        self.timeout_s = 10.0
        self._seen: set[tuple[str, int]] = set()  # (event UUID, hook id) already delivered
        self._logs: dict[int, list[dict[str, Any]]] = {}  # per hook, as GitLab's WebHookLog
        self._pending = 0
        self._lock = threading.Lock()
        self._queues: dict[int, asyncio.Queue[tuple[dict[str, Any], str, dict[str, Any], str]]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._session: aiohttp.ClientSession | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.resend_limit = RESEND_LIMIT
        self.resend_window_s = RESEND_WINDOW_S
        self.clock: Callable[[], float] = time.monotonic  # of the resend limit's window
        self._resends: dict[tuple[str, int], list[float]] = {}
        self._backlog: list[tuple[dict[str, Any], str, dict[str, Any], str]] = []

    @property
    def pending(self) -> int:
        with self._lock:
            return self._pending

    def emit(
        self, hooks: list[dict[str, Any]], event: str, payload: dict[str, Any], uuid_in: str | None
    ) -> None:
        """Queue `payload` for every hook that listens to `event` (from any thread)."""
        event_uuid = uuid_in or str(uuid.uuid4())
        flag = EVENT_FLAGS[event]
        for hook in hooks:
            if not hook.get(flag):
                continue
            if self.recursion_detection and uuid_in and (event_uuid, hook["id"]) in self._seen:
                continue  # GitLab's recursion detection: this hook already saw this UUID
            self._seen.add((event_uuid, hook["id"]))
            with self._lock:
                self._pending += 1
            item = (hook, event, payload, event_uuid)
            if self._on_loop():
                self._enqueue(item)
            elif self.loop is not None:  # a test's thread (a seed, a force-push)
                self.loop.call_soon_threadsafe(self._enqueue, item)
            else:  # not served yet: sent once the loop runs (`flush`)
                self._backlog.append(item)

    def _on_loop(self) -> bool:
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            return False
        return self.loop is None or running is self.loop

    def _enqueue(self, item: tuple[dict[str, Any], str, dict[str, Any], str]) -> None:
        hook = item[0]
        queue = self._queues.get(hook["id"])
        if queue is None:
            queue = self._queues[hook["id"]] = asyncio.Queue()
            self._tasks.append(asyncio.get_running_loop().create_task(self._drain(queue)))
        queue.put_nowait(item)

    def flush(self) -> None:
        """Queue what was emitted before the loop ran (call on the loop)."""
        backlog, self._backlog = self._backlog, []
        for item in backlog:
            self._enqueue(item)

    async def _drain(
        self, queue: asyncio.Queue[tuple[dict[str, Any], str, dict[str, Any], str]]
    ) -> None:
        while True:
            hook, event, payload, event_uuid = await queue.get()
            try:
                await self.send(hook, event, payload, event_uuid)
            finally:
                with self._lock:
                    self._pending -= 1

    def take_resend(self, parent: str, uid: int) -> bool:
        """Count a resend request of `uid` under a hook parent; False when over the limit."""
        now = self.clock()
        with self._lock:
            recent = [
                t for t in self._resends.get((parent, uid), []) if now - t < self.resend_window_s
            ]
            allowed = len(recent) < self.resend_limit
            if allowed:
                recent.append(now)
            self._resends[parent, uid] = recent
            return allowed

    async def send(
        self,
        hook: dict[str, Any],
        event: str,
        payload: dict[str, Any],
        event_uuid: str,
        *,
        idempotency_key: str | None = None,
    ) -> int | str:
        """Deliver one event to one hook now, updating the hook's failure state.

        A resent log entry keeps its `idempotency_key`; a new delivery gets one of its own."""
        now = datetime.now(UTC)
        disabled_until = hook.get("disabled_until")
        if hook["alert_status"] == "permanently_disabled" or (
            disabled_until and datetime.fromisoformat(disabled_until) > now
        ):
            self.sent.append(SentDelivery(hook["id"], hook["url"], event, {}, payload, "dropped"))
            return "dropped"
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "GitLab/18.5.0",
            "X-Gitlab-Event": event,
            "X-Gitlab-Event-UUID": event_uuid,
            "X-Gitlab-Webhook-UUID": str(uuid.uuid4()),
            "X-Gitlab-Instance": self.public_url,
            # One key per event and hook, kept across retries: the event UUID alone is shared
            # by every event a request caused (a reply to a comment carries the comment's).
            # A resend (idempotency_key given) repeats the logged delivery's own key.
            "Idempotency-Key": idempotency_key
            or str(uuid.uuid5(uuid.NAMESPACE_URL, f"{event_uuid}/{hook['id']}/{_digest(payload)}")),
        }
        if hook.get("token"):
            headers["X-Gitlab-Token"] = hook["token"]
        status: int | str
        try:
            if self._session is None:
                self._session = aiohttp.ClientSession()
            async with self._session.post(
                hook["url"],
                data=json.dumps(payload).replace(self.instance_url, self.public_url),
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=self.timeout_s),
            ) as response:
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            status = type(exc).__name__
        self._record(hook, isinstance(status, int) and 200 <= status < 400, now)
        self._log(hook, event, headers, payload, status, started=now)
        self.sent.append(SentDelivery(hook["id"], hook["url"], event, headers, payload, status))
        return status

    def _log(
        self,
        hook: dict[str, Any],
        event: str,
        headers: dict[str, str],
        payload: dict[str, Any],
        status: int | str,
        started: datetime,
    ) -> None:
        logs = self._logs.setdefault(hook["id"], [])
        logs.append(
            {
                "id": len(logs) + 1,
                "url": hook["url"],
                "trigger": TRIGGERS.get(event, event),
                "request_headers": {k: v for k, v in headers.items() if k != "X-Gitlab-Token"},
                "request_data": payload,
                "response_headers": {},
                "response_body": "",
                "execution_duration": (datetime.now(UTC) - started).total_seconds(),
                # A string, as GitLab stores it ("200"); a connection failure is "internal error".
                "response_status": str(status) if isinstance(status, int) else "internal error",
            }
        )
        del logs[:-LOG_SIZE]

    def log(self, hook_id: int) -> list[dict[str, Any]]:
        """The hook's recent delivery attempts, oldest first (dropped events are not logged)."""
        return list(self._logs.get(hook_id, []))

    @staticmethod
    def _record(hook: dict[str, Any], ok: bool, now: datetime) -> None:
        if ok:
            hook.update(recent_failures=0, alert_status="executable", disabled_until=None)
            return
        failures = hook.get("recent_failures", 0) + 1
        hook["recent_failures"] = failures
        if failures >= PERMANENT_FAILURES:
            hook.update(alert_status="permanently_disabled", disabled_until=None)
        elif failures >= TEMPORARY_FAILURES:
            backoff = timedelta(seconds=DISABLE_BACKOFF.delay(failures - TEMPORARY_FAILURES + 1))
            hook.update(
                alert_status="temporarily_disabled", disabled_until=(now + backoff).isoformat()
            )

    def wait_idle(self, timeout: float) -> bool:
        """Block (from another thread) until every queued delivery was attempted."""
        try:
            eventually_sync(lambda: self.pending == 0, within_s=timeout, every_s=0.01)
        except NotInTime:
            return False
        return True

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        if self._session is not None:
            await self._session.close()
