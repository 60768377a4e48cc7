"""This process's GitLab rate budget and how GitLab's answers steer it, on a fake clock."""

from __future__ import annotations

import asyncio
import math
import time

from pydantic import SecretStr

from hooks.gitlab.budget import Limits, RateBudget, read_limits
from hooks.gitlab.gateway import Gateway, budget_for
from hooks.service.config import Settings
from hooks.testing.clock import FakeClock
from hooks.testing.sim_faults import Fault
from hooks.testing.simulator import Simulator


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


def answer(t: FakeClock, status: int = 200, **headers: object) -> Limits:
    """GitLab's rate-limit headers on an answer, e.g. Remaining=0, Reset=<epoch>."""
    return read_limits(status, {f"RateLimit-{k}": str(v) for k, v in headers.items()})


def test_remaining_zero_holds_the_next_request_until_the_reset() -> None:
    t = FakeClock()
    budget = RateBudget(6000, clock=t.monotonic, sleep=t.sleep, wall=t.timestamp)
    budget.acquire()

    budget.answered(answer(t, Remaining=0, Reset=int(t.timestamp()) + 2))
    waited = budget.acquire()

    assert waited == 2.0


def test_remaining_above_what_is_in_flight_does_not_hold() -> None:
    t = FakeClock()
    budget = RateBudget(6000, clock=t.monotonic, sleep=t.sleep, wall=t.timestamp)
    for _ in range(3):
        budget.acquire()

    budget.answered(answer(t, Remaining=3, Reset=int(t.timestamp()) + 30))

    assert budget.acquire() == 0.0


def test_remaining_no_more_than_the_requests_in_flight_holds_until_the_reset() -> None:
    t = FakeClock()
    budget = RateBudget(6000, clock=t.monotonic, sleep=t.sleep, wall=t.timestamp)
    for _ in range(3):
        budget.acquire()

    # Two others are still on their way: either may take the last two.
    budget.answered(answer(t, Remaining=2, Reset=int(t.timestamp()) + 30))

    assert budget.acquire() == 30.0


def test_a_429_holds_for_its_retry_after() -> None:
    t = FakeClock()
    budget = RateBudget(6000, clock=t.monotonic, sleep=t.sleep, wall=t.timestamp)
    budget.acquire()

    budget.answered(read_limits(429, {"Retry-After": "7", "RateLimit-Remaining": "0"}))

    assert budget.acquire() == 7.0


def test_a_lower_limit_from_gitlab_slows_the_bucket_to_it() -> None:
    t = FakeClock()
    budget = RateBudget(6000, burst=1, clock=t.monotonic, sleep=t.sleep, wall=t.timestamp)
    budget.acquire()
    budget.answered(answer(t, Limit=600, Remaining=500, Reset=int(t.timestamp()) + 60))

    for _ in range(10):
        budget.acquire()

    assert abs(t.monotonic() - 1.0) < 1e-6  # 10 per second, not 100


def test_another_throttles_lower_limit_leaves_the_budget_as_it_is() -> None:
    t = FakeClock()
    budget = RateBudget(6000, clock=t.monotonic, sleep=t.sleep, wall=t.timestamp)
    budget.acquire()

    budget.answered(
        answer(
            t,
            Name="throttle_authenticated_protected_paths_api",
            Limit=10,
            Remaining=9,
            Reset=int(t.timestamp()) + 60,
        )
    )

    assert budget.rate == 100.0


def test_malformed_rate_limit_headers_are_ignored() -> None:
    t = FakeClock()
    budget = RateBudget(6000, clock=t.monotonic, sleep=t.sleep, wall=t.timestamp)
    budget.acquire()

    budget.answered(answer(t, Limit="many", Remaining="-1", Reset="soon"))

    assert budget.acquire() == 0.0
    assert budget.rate == 100.0


def test_on_sqlite_the_budget_is_this_process_own_bucket(settings: Settings) -> None:
    budget = budget_for(settings.model_copy(update={"gitlab_rate_per_minute": 900}))

    assert isinstance(budget, RateBudget) and budget.rate == 15.0


# -- through the gateway, against the simulator's throttle ------------------------------------


async def test_the_gateway_sends_nothing_more_until_the_reset_when_gitlab_says_none_remain(
    gitlab_sim: Simulator, sqlite_url: str
) -> None:
    gitlab_sim.faults.add(Fault(user="hooks-bot", rate_limit_per_minute=2, window_s=2))
    settings = Settings(
        _env_file=None,
        database_url=sqlite_url,
        gitlab_url=gitlab_sim.url,
        gitlab_token=SecretStr(gitlab_sim.bot_token),
        gitlab_threads=1,
    )
    gateway = Gateway(settings)
    await asyncio.sleep(2 - time.time() % 2)  # a window begins: both reads fall in it
    reset = math.floor(time.time() / 2) * 2 + 2
    try:
        for _ in range(3):
            await gateway.call(lambda gl: gl.projects.get("demo/product"))
    finally:
        gateway.close()

    calls = gitlab_sim.recorded(user="hooks-bot")
    assert [c.status for c in calls] == [200, 200, 200]
    # The second answer said Remaining: 0; the third waited for RateLimit-Reset.
    assert time.time() - (time.perf_counter() - calls[2].started) >= reset - 0.05
