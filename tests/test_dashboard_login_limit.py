"""Dashboard sign-in: failed attempts are limited per client address, the token never logged."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
import structlog
from aiohttp.test_utils import TestClient
from pydantic import SecretStr

from hooks.service.app import create_app
from hooks.service.config import Settings
from hooks.testing.clock import FakeClock

ADMIN = "admin-token-0123"
WRONG = "wrong-token-9876"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def client(aiohttp_client: Any, settings: Settings, clock: FakeClock) -> TestClient:
    limited = settings.model_copy(
        update={
            "admin_token": SecretStr(ADMIN),
            "ui_login_attempts": 3,
            "ui_login_window_s": 600.0,
        }
    )
    return await aiohttp_client(create_app(limited, now=clock))


async def sign_in(client: TestClient, token: str, **headers: str) -> aiohttp.ClientResponse:
    return await client.post(
        "/ui/login", data={"token": token}, headers=headers, allow_redirects=False
    )


async def fail(client: TestClient, times: int) -> None:
    for _ in range(times):
        assert (await sign_in(client, WRONG)).status == 401


async def test_after_the_allowed_failures_the_next_attempt_answers_429_with_retry_after(
    client: TestClient,
) -> None:
    await fail(client, 3)
    refused = await sign_in(client, WRONG)
    assert refused.status == 429
    assert refused.headers["Retry-After"] == "600"
    assert "Too many failed sign-ins" in await refused.text()


async def test_a_refused_address_is_refused_even_with_the_right_token(client: TestClient) -> None:
    await fail(client, 3)
    refused = await sign_in(client, ADMIN)
    assert refused.status == 429
    assert "Set-Cookie" not in refused.headers


async def test_successful_sign_ins_do_not_count(client: TestClient) -> None:
    for _ in range(5):
        assert (await sign_in(client, ADMIN)).status == 303
    await fail(client, 3)
    assert (await sign_in(client, ADMIN)).status == 429


async def test_retry_after_counts_down_to_when_the_oldest_failure_leaves_the_window(
    client: TestClient, clock: FakeClock
) -> None:
    await fail(client, 1)
    clock.advance(100)
    await fail(client, 2)
    clock.advance(50)
    assert (await sign_in(client, WRONG)).headers["Retry-After"] == "450"
    clock.advance(450)
    assert (await sign_in(client, ADMIN)).status == 303


async def test_one_free_slot_allows_one_attempt_before_the_next_refusal(
    client: TestClient, clock: FakeClock
) -> None:
    await fail(client, 1)
    clock.advance(100)
    await fail(client, 2)
    clock.advance(500)  # the first failure has left the window: one attempt is free
    await fail(client, 1)
    refused = await sign_in(client, ADMIN)
    assert refused.status == 429
    assert refused.headers["Retry-After"] == "100"


async def test_another_address_is_unaffected(client: TestClient) -> None:
    await fail(client, 3)
    other = aiohttp.TCPConnector(local_addr=("127.0.0.2", 0))
    async with aiohttp.ClientSession(connector=other) as session:
        response = await session.post(
            client.make_url("/ui/login"), data={"token": ADMIN}, allow_redirects=False
        )
    assert response.status == 303
    assert (await sign_in(client, ADMIN)).status == 429


async def test_x_forwarded_for_is_not_trusted_as_the_client_address(client: TestClient) -> None:
    for n in range(3):
        await sign_in(client, WRONG, **{"X-Forwarded-For": f"203.0.113.{n}"})
    refused = await sign_in(client, ADMIN, **{"X-Forwarded-For": "198.51.100.7"})
    assert refused.status == 429


async def test_each_refusal_is_logged_as_a_warning_with_the_address_and_never_the_token(
    client: TestClient,
) -> None:
    await fail(client, 3)
    with structlog.testing.capture_logs() as logs:
        await sign_in(client, ADMIN)
        await sign_in(client, WRONG)
    refusals = [line for line in logs if line["event"] == "dashboard login throttled"]
    assert [(r["log_level"], r["remote"]) for r in refusals] == [("warning", "127.0.0.1")] * 2
    for text in (repr(line) for line in logs):
        assert ADMIN[:4] not in text and WRONG[:4] not in text
