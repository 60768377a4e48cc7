"""The worker: every stored delivery ends done or failed with a reason, retried on the way."""

from __future__ import annotations

import asyncio
import random
import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
import structlog.testing

from hooks.events import Event
from hooks.processing.dispatch import DispatchResult, RecordingDispatcher, RetryableError
from hooks.processing.worker import RetryPolicy, Worker, claim_pause
from hooks.storage.records import Delivery, NewDelivery
from hooks.storage.store import Store
from hooks.testing.clock import FakeClock
from hooks.testing.waiting import eventually
from tests.conftest import fixture_bytes


class Flaky:
    """Fails the first `failures` times, then records the event."""

    def __init__(self, failures: int, exc: type[Exception] = RetryableError) -> None:
        self.failures = failures
        self.exc = exc
        self.calls = 0

    async def dispatch(self, delivery: Delivery, event: Event) -> DispatchResult:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.exc(f"GitLab answered 503 (call {self.calls})")
        return await RecordingDispatcher().dispatch(delivery, event)


@pytest.fixture
async def store(sqlite_url: str) -> AsyncIterator[Store]:
    opened = Store.open(sqlite_url)
    await opened.migrate()
    yield opened
    await opened.close()


async def add(store: Store, clock: FakeClock, body: bytes, key: str = "k") -> int:
    new = NewDelivery(key, "Issue Hook", "issue", "p", None, {}, body, clock())
    delivery_id, _ = await store.add_delivery(new)
    return delivery_id


def worker(store: Store, dispatcher: object, clock: FakeClock, attempts: int = 3) -> Worker:
    return Worker(
        store,
        dispatcher,  # type: ignore[arg-type]
        retry=RetryPolicy(max_attempts=attempts, base_s=10, cap_s=60),
        now=clock,
        rng=random.Random(1),
    )


async def run_retries(w: Worker, clock: FakeClock, rounds: int) -> None:
    for _ in range(rounds):
        await w.run_until_idle()
        clock.advance(timedelta(minutes=2))


async def test_a_parsed_event_is_recorded_in_the_audit_trail(store: Store) -> None:
    clock = FakeClock(datetime(2026, 11, 2, 9, 0, tzinfo=UTC))
    delivery_id = await add(store, clock, fixture_bytes("issue_open.json"))
    await worker(store, RecordingDispatcher(), clock).run_until_idle()
    done = await store.get_delivery(delivery_id)
    assert done is not None and done.status == "done"
    [line] = await store.audit_for(delivery_id=delivery_id)
    assert line["detail"]["subject"] == "gitlabhq/gitlab-test#23"


async def test_a_transient_failure_is_retried_later_and_then_succeeds(store: Store) -> None:
    clock = FakeClock(datetime(2026, 11, 2, 9, 0, tzinfo=UTC))
    delivery_id = await add(store, clock, fixture_bytes("issue_open.json"))
    flaky = Flaky(failures=2)
    w = worker(store, flaky, clock)
    await w.run_until_idle()
    first = await store.get_delivery(delivery_id)
    assert first is not None and first.status == "pending"
    assert first.next_attempt_at >= clock.now() + timedelta(seconds=5)  # backoff, with jitter
    await run_retries(w, clock, 3)
    done = await store.get_delivery(delivery_id)
    assert done is not None and (done.status, done.attempts, flaky.calls) == ("done", 3, 3)


async def test_backoff_grows_exponentially_within_jitter_and_cap() -> None:
    policy = RetryPolicy(max_attempts=10, base_s=2, cap_s=30)
    rng = random.Random(7)
    delays = [policy.delay(n, rng).total_seconds() for n in range(1, 7)]
    for n, delay in enumerate(delays, start=1):
        ceiling = min(30, 2 * 2 ** (n - 1))
        assert ceiling / 2 <= delay <= ceiling


async def test_a_delivery_that_keeps_failing_ends_failed_with_its_error(store: Store) -> None:
    clock = FakeClock(datetime(2026, 11, 2, 9, 0, tzinfo=UTC))
    delivery_id = await add(store, clock, fixture_bytes("issue_open.json"))
    w = worker(store, Flaky(failures=99, exc=RuntimeError), clock, attempts=3)
    await run_retries(w, clock, 5)
    failed = await store.get_delivery(delivery_id)
    assert failed is not None and failed.status == "failed"
    assert failed.last_error is not None
    assert failed.last_error.startswith("gave up after 3 attempts: RuntimeError: GitLab answered")


async def test_an_unparseable_payload_fails_at_once_with_the_reason(store: Store) -> None:
    clock = FakeClock(datetime(2026, 11, 2, 9, 0, tzinfo=UTC))
    delivery_id = await add(store, clock, b'{"labels": "not a list"}')
    flaky = Flaky(failures=0)
    await worker(store, flaky, clock).run_until_idle()
    failed = await store.get_delivery(delivery_id)
    assert failed is not None and failed.status == "failed" and failed.attempts == 1
    assert failed.last_error is not None and "labels" in failed.last_error
    assert flaky.calls == 0


class Slow:
    def __init__(self) -> None:
        self.started = asyncio.Event()

    async def dispatch(self, delivery: Delivery, event: Event) -> DispatchResult:
        self.started.set()
        await asyncio.sleep(3600)  # a dispatch that hangs: the scenario, not a wait
        raise AssertionError("unreachable")


async def test_stop_releases_work_that_does_not_finish_within_the_grace(store: Store) -> None:
    clock = FakeClock(datetime(2026, 11, 2, 9, 0, tzinfo=UTC))
    delivery_id = await add(store, clock, fixture_bytes("issue_open.json"))
    slow = Slow()
    w = worker(store, slow, clock)
    await w.start()
    await asyncio.wait_for(slow.started.wait(), 5)
    await w.stop(grace_s=0.05)
    released = await store.get_delivery(delivery_id)
    assert released is not None and (released.status, released.attempts) == ("pending", 0)
    assert not w.running


def test_the_claim_pause_doubles_per_failed_claim_up_to_a_cap() -> None:
    pauses = [claim_pause(1.0, failures) for failures in range(6)]
    assert pauses == [1.0, 2.0, 4.0, 8.0, 15.0, 15.0]
    assert claim_pause(30.0, 3) == 30.0  # a poll longer than the cap is kept


async def test_while_the_database_refuses_claims_the_worker_backs_off_and_says_so_sparingly() -> (
    None
):
    with socket.socket() as probe:  # a port nothing listens on: every connection refused
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    unreachable = Store.open(f"postgresql://hooks@127.0.0.1:{port}/hooks")
    w = Worker(unreachable, RecordingDispatcher(), poll_interval_s=0.01)
    with structlog.testing.capture_logs() as logs:
        await w.start()
        # A second passes (the scenario: how often it tries in that time), then the first
        # three reports are there for certain.
        await asyncio.sleep(1.0)
        await eventually(lambda: sum(e["event"] == "claim failed" for e in logs) >= 3, within_s=10)
        await w.stop()
    await unreachable.close()

    failures = [e["failed_claims"] for e in logs if e["event"] == "claim failed"]
    # Without the pause a 10 ms poll would try some hundred times a second; doubling from
    # 20 ms, the 8th attempt comes only after 2.5 s.
    assert failures[:3] == [1, 2, 4]
    assert failures[-1] <= 4
