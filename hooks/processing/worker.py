"""The worker: claims stored deliveries, parses them, dispatches them, records the outcome."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import random
import socket
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import structlog

from hooks.backoff import Backoff
from hooks.events import EventParseError, parse_event
from hooks.processing.dispatch import (
    DeliveryHandler,
    Dispatcher,
    DispatchResult,
    RetryableError,
)
from hooks.service.metrics import Metrics
from hooks.storage.records import AuditRecord, Delivery
from hooks.storage.store import Store

log = structlog.get_logger("hooks.worker")
CLAIM_PAUSE_CAP_S = 15.0  # longest wait between claims while the database refuses them


def claim_pause(poll_interval_s: float, failed_claims: int) -> float:
    """How long the claim loop waits: the poll interval, doubled per failed claim in a row.

    A new delivery still wakes it at once (it was stored, so the database is back).
    """
    backoff = Backoff(base_s=poll_interval_s, cap_s=max(poll_interval_s, CLAIM_PAUSE_CAP_S))
    return backoff.delay(min(failed_claims, 16) + 1)


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class RetryPolicy:
    """Up to a number of attempts, with backoff (hooks.backoff) and half of it as jitter."""

    max_attempts: int = 8
    base_s: float = 2.0
    cap_s: float = 600.0

    @property
    def backoff(self) -> Backoff:
        return Backoff(base_s=self.base_s, cap_s=self.cap_s, jitter=0.5)

    def delay(self, attempt: int, rng: random.Random) -> timedelta:
        """The wait before attempt `attempt + 1`: between half and all of the capped exponential."""
        return timedelta(seconds=self.backoff.delay(attempt, rng))


class Worker:
    """Processes the inbox with bounded concurrency; safe to run in several processes."""

    def __init__(
        self,
        store: Store,
        dispatcher: Dispatcher,
        *,
        metrics: Metrics | None = None,
        concurrency: int = 4,
        lease: timedelta = timedelta(seconds=60),
        retry: RetryPolicy | None = None,
        poll_interval_s: float = 1.0,
        now: Callable[[], datetime] = utcnow,
        rng: random.Random | None = None,
        handlers: Mapping[str, DeliveryHandler] | None = None,
    ) -> None:
        self.store = store
        self.dispatcher = dispatcher
        self.handlers = dict(handlers or {})
        self.metrics = metrics or Metrics()
        self.concurrency = concurrency
        self.lease = lease
        self.retry = retry or RetryPolicy()
        self.poll_interval_s = poll_interval_s
        self.now = now
        self.rng = rng or random.Random()
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._wake = asyncio.Event()
        self._stopping = False
        self._loop_task: asyncio.Task[None] | None = None
        self._in_flight: dict[int, asyncio.Task[None]] = {}
        self._slots = asyncio.Semaphore(concurrency)
        # True when more deliveries may be due than the last claim took: a finished one
        # then wakes the loop to claim again; otherwise only a notify or the poll does
        # (an empty claim is a wasted transaction on the one SQLite connection).
        self._backlog = True

    @property
    def running(self) -> bool:
        return self._loop_task is not None and not self._loop_task.done()

    def notify(self) -> None:
        """Wake the claim loop: something new was stored."""
        self._backlog = True
        self._wake.set()

    async def start(self) -> None:
        self._loop_task = asyncio.create_task(self._claim_loop(), name="hooks-worker")

    async def stop(self, grace_s: float = 10.0) -> None:
        """Stop claiming, let in-flight work finish within `grace_s`, release the rest."""
        self._stopping = True
        self._wake.set()
        if self._loop_task:
            await self._loop_task
        leftover: list[int] = []
        if self._in_flight:
            _done, unfinished = await asyncio.wait(list(self._in_flight.values()), timeout=grace_s)
            leftover = [i for i, task in self._in_flight.items() if task in unfinished]
            for task in unfinished:
                task.cancel()
            await asyncio.gather(*unfinished, return_exceptions=True)
        if leftover:
            log.warning("released unfinished deliveries", ids=leftover)
            with contextlib.suppress(Exception):
                await self.store.release(leftover, self.owner)

    async def run_until_idle(self) -> None:
        """Process everything due now, then return (for tests and one-shot commands)."""
        while True:
            claimed = await self.store.claim(self.owner, self.concurrency, self.lease, self.now())
            if not claimed:
                return
            await asyncio.gather(*(self._process(d) for d in claimed))

    async def _claim_loop(self) -> None:
        heartbeat = asyncio.create_task(self._heartbeat())
        failed_claims = 0
        try:
            while not self._stopping:
                # Cleared before claiming, so a notify during the claim is not lost.
                self._wake.clear()
                free = self.concurrency - len(self._in_flight)
                if free > 0:
                    claimed: list[Delivery] = []
                    try:
                        claimed = await self.store.claim(self.owner, free, self.lease, self.now())
                    except Exception as exc:  # database down: keep serving, try again
                        failed_claims += 1
                        # Said at the 1st, 2nd, 4th, 8th... failure: an outage is logged, not
                        # repeated every second.
                        if failed_claims & (failed_claims - 1) == 0:
                            log.warning("claim failed", error=str(exc), failed_claims=failed_claims)
                    else:
                        if failed_claims:
                            log.info("claims resumed", failed_claims=failed_claims)
                        failed_claims = 0
                    for delivery in claimed:
                        task = asyncio.create_task(self._process(delivery))
                        self._in_flight[delivery.id] = task
                        task.add_done_callback(functools.partial(self._finished, delivery.id))
                    self._backlog = len(claimed) == free
                with contextlib.suppress(TimeoutError):
                    pause = claim_pause(self.poll_interval_s, failed_claims)
                    await asyncio.wait_for(self._wake.wait(), pause)
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat

    def _finished(self, delivery_id: int, _task: asyncio.Task[None]) -> None:
        self._in_flight.pop(delivery_id, None)
        if self._backlog:
            self._wake.set()

    async def _heartbeat(self) -> None:
        # A long dispatch (a sprint roll-over) must not lose its lease to another worker.
        period = max(self.lease.total_seconds() / 3, 0.05)
        while True:
            await asyncio.sleep(period)
            if self._in_flight:
                with contextlib.suppress(Exception):
                    await self.store.extend_lease(
                        list(self._in_flight), self.owner, self.now() + self.lease
                    )

    async def _process(self, delivery: Delivery) -> None:
        with structlog.contextvars.bound_contextvars(
            delivery=delivery.id, kind=delivery.kind, project=delivery.project
        ):
            try:
                await self._process_and_record(delivery)
            except Exception as exc:
                # The database went away while recording: the claim's lease lapses and the
                # delivery is claimed again, its actions resumed from the ledger.
                log.warning("recording the outcome failed; will be claimed again", error=str(exc))

    async def _process_and_record(self, delivery: Delivery) -> None:
        try:
            result = await self._dispatch(delivery)
        except RetryableError as exc:
            await self._retry_or_fail(delivery, str(exc))
            return
        except Exception as exc:
            log.exception("dispatch raised")
            await self._retry_or_fail(delivery, f"{type(exc).__name__}: {exc}")
            return
        recorded = await self.store.finish(
            delivery.id,
            self.owner,
            status=result.outcome,
            now=self.now(),
            records=result.records,
            error=result.error,
        )
        if recorded:
            self.metrics.processed.labels(delivery.kind or "?", result.outcome).inc()
            log.info("delivery processed", outcome=result.outcome, attempt=delivery.attempts)
        else:
            log.warning("lease lost before recording; another worker owns the delivery")

    async def _dispatch(self, delivery: Delivery) -> DispatchResult:
        handler = self.handlers.get(delivery.kind or "")
        if handler is not None:
            return await handler(delivery)
        try:
            event = parse_event(delivery.event_header, delivery.body)
        except EventParseError as exc:
            # Retrying cannot make a malformed payload readable.
            return DispatchResult(
                outcome="failed",
                records=[
                    AuditRecord(kind="error", outcome="unparseable", detail={"error": str(exc)})
                ],
                error=f"unparseable payload: {exc}",
            )
        return await self.dispatcher.dispatch(delivery, event)

    async def _retry_or_fail(self, delivery: Delivery, error: str) -> None:
        now = self.now()
        if delivery.attempts >= self.retry.max_attempts:
            await self.store.finish(
                delivery.id,
                self.owner,
                status="failed",
                now=now,
                records=[AuditRecord(kind="error", outcome="gave up", detail={"error": error})],
                error=f"gave up after {delivery.attempts} attempts: {error}",
            )
            self.metrics.processed.labels(delivery.kind or "?", "failed").inc()
            log.error("delivery failed", attempts=delivery.attempts, error=error)
            return
        at = now + self.retry.delay(delivery.attempts, self.rng)
        await self.store.retry_later(delivery.id, self.owner, at=at, error=error, now=now)
        log.warning("delivery will be retried", attempt=delivery.attempts, at=at.isoformat())
