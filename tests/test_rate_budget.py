"""The shared GitLab rate budget, on a fake clock."""

from __future__ import annotations

from hooks.gitlab.budget import RateBudget
from hooks.testing.clock import FakeClock


def test_a_burst_beyond_the_bucket_is_spread_at_the_configured_rate() -> None:
    t = FakeClock()
    budget = RateBudget(600, burst=10, clock=t.monotonic, sleep=t.sleep)

    for _ in range(110):
        budget.acquire()

    # 10 at once from the full bucket, then 100 more at 10 per second.
    assert abs(t.monotonic() - 10.0) < 1e-6


def test_no_wait_while_under_the_rate() -> None:
    t = FakeClock()
    budget = RateBudget(600, burst=10, clock=t.monotonic, sleep=t.sleep)

    waited = [budget.acquire() for _ in range(10)]

    assert waited == [0.0] * 10


def test_a_retry_after_pauses_every_caller() -> None:
    t = FakeClock()
    budget = RateBudget(6000, clock=t.monotonic, sleep=t.sleep)

    budget.pause(5)
    waited = budget.acquire()

    assert waited >= 5.0
