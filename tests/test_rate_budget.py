"""The shared GitLab rate budget, on a fake clock."""

from __future__ import annotations

from hooks.gitlab.gateway import RateBudget


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_a_burst_beyond_the_bucket_is_spread_at_the_configured_rate() -> None:
    t = FakeTime()
    budget = RateBudget(600, burst=10, clock=t.clock, sleep=t.sleep)

    for _ in range(110):
        budget.acquire()

    # 10 at once from the full bucket, then 100 more at 10 per second.
    assert abs(t.now - 10.0) < 1e-6


def test_no_wait_while_under_the_rate() -> None:
    t = FakeTime()
    budget = RateBudget(600, burst=10, clock=t.clock, sleep=t.sleep)

    waited = [budget.acquire() for _ in range(10)]

    assert waited == [0.0] * 10


def test_a_retry_after_pauses_every_caller() -> None:
    t = FakeTime()
    budget = RateBudget(6000, clock=t.clock, sleep=t.sleep)

    budget.pause(5)
    waited = budget.acquire()

    assert waited >= 5.0
