"""The one backoff policy, and the delays each of its users had before it was one."""

from __future__ import annotations

import random

import pytest

from hooks.actions.executor_effects import CREATE_RETRY
from hooks.backoff import Backoff
from hooks.processing.worker import RetryPolicy
from hooks.service.runtime import BOT_RETRY
from hooks.testing.sim_webhooks import DISABLE_BACKOFF


def test_the_base_doubles_per_attempt_up_to_the_cap() -> None:
    backoff = Backoff(base_s=2.0, cap_s=30.0)
    assert [backoff.delay(n) for n in range(1, 7)] == [2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
    assert backoff.delay(10_000) == 30.0  # no overflow


def test_jitter_takes_up_to_its_fraction_off() -> None:
    backoff = Backoff(base_s=10.0, cap_s=100.0, jitter=0.5)
    rng = random.Random(3)
    for n in range(1, 8):
        ceiling = min(100.0, 10.0 * 2 ** (n - 1))
        assert ceiling / 2 <= backoff.delay(n, rng) <= ceiling


def test_jitter_is_a_fraction() -> None:
    with pytest.raises(ValueError, match="fraction"):
        Backoff(base_s=1.0, cap_s=2.0, jitter=1.5)


def test_delivery_retries_draw_the_same_delays_as_before() -> None:
    policy = RetryPolicy(max_attempts=8, base_s=2.0, cap_s=600.0)
    ours, before = random.Random(11), random.Random(11)
    for attempt in range(1, 12):
        expected = min(600.0, 2.0 * 2 ** max(attempt - 1, 0)) * before.uniform(0.5, 1.0)
        assert policy.delay(attempt, ours).total_seconds() == pytest.approx(expected)


def test_each_user_keeps_its_delays() -> None:
    assert [CREATE_RETRY.delay(n) for n in range(1, 6)] == [0.2, 0.4, 0.8, 1.6, 2.0]
    assert [BOT_RETRY.delay(n) for n in (1, 2, 6, 7, 8)] == [1.0, 2.0, 32.0, 60.0, 60.0]
    assert [DISABLE_BACKOFF.delay(n) / 60 for n in (1, 2, 11, 12)] == [1, 2, 1024, 1440]
