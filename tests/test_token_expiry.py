"""The bot's own token: its expiry in /readyz, as a metric and as warnings while it nears."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
import structlog
from aiohttp.test_utils import TestClient

from hooks.service.app import create_app
from hooks.service.context import SERVICE
from hooks.testing.clock import FakeClock
from hooks.testing.sim_faults import Fault
from hooks.testing.simulator import Simulator, SimulatorThread
from tests.e2e import service_settings

TODAY = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
TOKEN_PATH = "/api/v4/personal_access_tokens/self"
METRIC = "hooks_gitlab_token_expiry_timestamp_seconds"
EXPIRY_WARNING = "the GitLab token expires soon: renew it"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(TODAY)


@pytest.fixture
def bot(request: pytest.FixtureRequest) -> dict[str, Any]:
    """The bot user of the seed; a test sets its `token_expires_at` with indirect params."""
    return {"username": "hooks-bot", **getattr(request, "param", {})}


@pytest.fixture
def sim(bot: dict[str, Any], clock: FakeClock) -> Iterator[Simulator]:
    simulator = Simulator({"users": [bot]}, now=clock)
    with SimulatorThread(simulator):
        yield simulator


async def serve(aiohttp_client: Any, sim: Simulator, tmp_path: Path, clock: FakeClock) -> Any:
    settings = service_settings(
        sim, tmp_path, "rules: []\n", watchdog_interval_s=0, reconcile_interval_s=0
    )
    return await aiohttp_client(create_app(settings, now=clock))


async def token_check(client: TestClient) -> tuple[int, dict[str, Any]]:
    response = await client.get("/readyz")
    body = await response.json()
    return response.status, body["checks"]["token"]


def expires(when: str) -> Any:
    return pytest.mark.parametrize("bot", [{"token_expires_at": when}], indirect=True)


@expires("2026-12-20")
async def test_a_token_with_time_left_is_shown_with_its_date_and_days_and_stays_ready(
    aiohttp_client: Any, sim: Simulator, tmp_path: Path, clock: FakeClock
) -> None:
    client = await serve(aiohttp_client, sim, tmp_path, clock)
    status, check = await token_check(client)
    assert status == 200
    assert check == {"ok": True, "detail": "expires 2026-12-20 (15 days)"}


@expires("2026-12-20")
async def test_the_expiry_is_a_metric_at_midnight_utc_of_the_date(
    aiohttp_client: Any, sim: Simulator, tmp_path: Path, clock: FakeClock
) -> None:
    client = await serve(aiohttp_client, sim, tmp_path, clock)
    text = await (await client.get("/metrics")).text()
    samples = {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(METRIC)
    }
    midnight = datetime(2026, 12, 20, tzinfo=UTC).timestamp()
    assert samples == {f'{METRIC}{{name="hooks-bot-token"}}': midnight}


@expires("2026-12-15")
async def test_an_expiring_token_is_a_warning_and_stays_ready(
    aiohttp_client: Any, sim: Simulator, tmp_path: Path, clock: FakeClock
) -> None:
    with structlog.testing.capture_logs() as logs:
        client = await serve(aiohttp_client, sim, tmp_path, clock)
    status, check = await token_check(client)
    assert status == 200
    assert check == {"ok": True, "detail": "expires 2026-12-15 (10 days): renew it"}
    warnings = [line for line in logs if line["event"] == EXPIRY_WARNING]
    assert [(w["log_level"], w["days_left"]) for w in warnings] == [("warning", 10)]


@expires("2026-12-15")
async def test_the_daily_read_warns_again_at_three_days_and_once_per_threshold(
    aiohttp_client: Any, sim: Simulator, tmp_path: Path, clock: FakeClock
) -> None:
    client = await serve(aiohttp_client, sim, tmp_path, clock)
    token = client.app[SERVICE].runtime.token
    with structlog.testing.capture_logs() as logs:
        for _ in range(9):  # the daily job, on each of the next nine days
            clock.advance(86400)
            await token.read()
    warnings = [line["days_left"] for line in logs if line["event"] == EXPIRY_WARNING]
    assert warnings == [3]
    assert (await token_check(client))[1]["detail"] == "expires 2026-12-15 (1 day): renew it"


@expires("2026-12-01")
async def test_an_expired_token_fails_readiness_with_the_reason(
    aiohttp_client: Any, sim: Simulator, tmp_path: Path, clock: FakeClock
) -> None:
    client = await serve(aiohttp_client, sim, tmp_path, clock)
    status, check = await token_check(client)
    assert (status, check) == (503, {"ok": False, "detail": "expired on 2026-12-01"})


@expires("2026-12-05")
async def test_a_token_on_its_expiry_date_is_expired_as_gitlab_ends_it_at_midnight_utc(
    aiohttp_client: Any, sim: Simulator, tmp_path: Path, clock: FakeClock
) -> None:
    client = await serve(aiohttp_client, sim, tmp_path, clock)
    status, check = await token_check(client)
    assert (status, check) == (503, {"ok": False, "detail": "expired on 2026-12-05"})


@expires("2026-12-20")
async def test_a_token_expiring_in_the_daily_read_fails_readiness_from_then_on(
    aiohttp_client: Any, sim: Simulator, tmp_path: Path, clock: FakeClock
) -> None:
    client = await serve(aiohttp_client, sim, tmp_path, clock)
    clock.advance(16 * 86400)
    await client.app[SERVICE].runtime.token.read()
    status, check = await token_check(client)
    assert (status, check["ok"]) == (503, False)


async def test_a_token_without_expiry_never_expires_and_has_no_metric(
    aiohttp_client: Any, sim: Simulator, tmp_path: Path, clock: FakeClock
) -> None:
    client = await serve(aiohttp_client, sim, tmp_path, clock)
    assert await token_check(client) == (200, {"ok": True, "detail": "never expires"})
    assert f"{METRIC}{{" not in await (await client.get("/metrics")).text()


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (404, "GitLab has no GET /personal_access_tokens/self for this token (404)"),
        (401, "GitLab does not say for this token (401)"),
    ],
)
async def test_a_gitlab_that_does_not_answer_leaves_the_expiry_unknown_and_ready(
    aiohttp_client: Any,
    sim: Simulator,
    tmp_path: Path,
    clock: FakeClock,
    status: int,
    reason: str,
) -> None:
    sim.faults.add(Fault(method="GET", path=TOKEN_PATH, error_rate=1.0, statuses=(status,)))
    client = await serve(aiohttp_client, sim, tmp_path, clock)
    assert await token_check(client) == (200, {"ok": True, "detail": f"expiry unknown: {reason}"})


async def test_dry_run_without_a_token_says_no_token(
    aiohttp_client: Any, sim: Simulator, tmp_path: Path, clock: FakeClock
) -> None:
    settings = service_settings(sim, tmp_path, "rules: []\n", gitlab_token=None)
    client = await aiohttp_client(create_app(settings, now=clock))
    assert await token_check(client) == (200, {"ok": True, "detail": "no token"})
    assert TOKEN_PATH not in [r.path for r in sim.requests]


def test_the_simulator_says_a_token_past_its_seeded_expiry_is_no_longer_active(
    clock: FakeClock,
) -> None:
    sim = Simulator({"users": [{"username": "bot", "token_expires_at": "-1d"}]}, now=clock)
    with SimulatorThread(sim):
        answer = requests.get(
            sim.url + TOKEN_PATH, headers={"PRIVATE-TOKEN": sim.bot_token}, timeout=5
        ).json()
    assert (answer["expires_at"], answer["active"]) == ("2026-12-04", False)
