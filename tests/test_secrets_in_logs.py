"""No secret or token in the logs, whatever happens (issue 11, "Content safety": logs).

`hooks serve` runs as a real process with every secret configured, through GitLab faults,
refused and signed deliveries, admin calls and a database outage; its captured structlog
output (DEBUG, JSON) is then searched for each secret.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import secrets
import signal
import time
from pathlib import Path

import aiohttp
import pytest
import structlog
from sqlalchemy.engine import make_url

from hooks.intake.auth import sign
from hooks.processing.worker import utcnow
from hooks.service.config import Settings
from hooks.service.logs import configure_logging
from hooks.storage.store import Store
from hooks.testing.sim_faults import Fault
from hooks.testing.simulator import Simulator, SimulatorThread
from hooks.testing.waiting import eventually
from tests.burst import issue_opened, seed
from tests.faults import CuttableLink
from tests.test_gitlab_faults import BOT, TRIAGE
from tests.test_serve_process import ServeProcess

OLD_SECRET, NEW_SECRET = f"old-{secrets.token_hex(12)}", f"new-{secrets.token_hex(12)}"
SIGNING_KEY = secrets.token_bytes(32)
SIGNING_TOKEN = "whsec_" + base64.b64encode(SIGNING_KEY).decode()
GITLAB_TOKEN = f"glpat-{secrets.token_hex(10)}"
ADMIN_TOKEN = f"admin-{secrets.token_hex(12)}"
DB_PASSWORD = f"pw-{secrets.token_hex(10)}"  # trust auth: the server ignores it, the URL has it


def signed(data: bytes, msg_id: str) -> dict[str, str]:
    stamp = str(int(time.time()))
    return {
        "X-Gitlab-Event": "Issue Hook",
        "webhook-id": msg_id,
        "webhook-timestamp": stamp,
        "webhook-signature": sign(SIGNING_KEY, msg_id, stamp, data),
    }


def token(value: str) -> dict[str, str]:
    return {"X-Gitlab-Event": "Issue Hook", "X-Gitlab-Token": value}


async def test_no_configured_secret_appears_in_the_logs_through_faults_and_refusals(
    postgres_url: str, tmp_path: Path
) -> None:
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "triage.yaml").write_text(TRIAGE)
    target = make_url(postgres_url)
    sim = Simulator(seed(6), token=GITLAB_TOKEN)

    def body(n: int) -> bytes:
        return issue_opened(sim, n)

    for fault in (
        Fault(user=BOT, path="/api/v4/projects/*", error_rate=0.3),
        Fault(user=BOT, path="/api/v4/projects/*", hang_rate=0.05, hang_s=2.0),
        Fault(user=BOT, path="/api/v4/projects/*", reset_rate=0.1),
    ):
        sim.faults.add(fault)
    storm = sim.faults.add(  # an application limit: 429s the budget cannot see coming
        Fault(
            user=BOT,
            path="/api/v4/projects/*",
            rate_limit_per_minute=3,
            window_s=1.0,
            application_limit=True,
        )
    )
    with (
        CuttableLink(target.host or "127.0.0.1", target.port or 5432) as link,
        SimulatorThread(sim),
    ):
        database_url = target.set(port=link.port, password=DB_PASSWORD)
        env = {k: v for k, v in os.environ.items() if not k.startswith("HOOKS_")}
        env.update(
            HOOKS_DATABASE_URL=database_url.render_as_string(hide_password=False),
            HOOKS_WEBHOOK_SECRET=f"{OLD_SECRET},{NEW_SECRET}",
            HOOKS_WEBHOOK_SIGNING_TOKEN=SIGNING_TOKEN,
            HOOKS_GITLAB_URL=sim.url,
            HOOKS_GITLAB_TOKEN=GITLAB_TOKEN,
            HOOKS_ADMIN_TOKEN=ADMIN_TOKEN,
            HOOKS_RULES_DIR=str(tmp_path / "rules"),
            HOOKS_GITLAB_TIMEOUT_S="0.5",
            HOOKS_GITLAB_RATE_PER_MINUTE="60000",
            HOOKS_RETRY_BASE_S="0.05",
            HOOKS_RETRY_CAP_S="0.5",
            HOOKS_MAX_ATTEMPTS="50",
            HOOKS_LEASE_SECONDS="2",
            HOOKS_POLL_INTERVAL_S="0.05",
            HOOKS_LOG_FORMAT="json",
            HOOKS_LOG_LEVEL="DEBUG",
        )
        log_path = tmp_path / "serve.log"
        serve = ServeProcess(env, log_path)
        statuses: list[int] = []
        try:
            await serve.ready()
            async with aiohttp.ClientSession() as session:

                async def post(path: str, data: bytes = b"", **headers: str) -> None:
                    async with session.post(serve.url + path, data=data, headers=headers) as r:
                        statuses.append(r.status)

                await post("/webhook", body(1), **token(OLD_SECRET))
                await post("/webhook", body(2), **token(NEW_SECRET))
                await post("/webhook", body(3), **token(NEW_SECRET[:-1]))  # wrong
                captured = signed(body(3), "msg-3")
                await post("/webhook", body(3), **captured)
                # A replay is the captured request sent again as it was: signing anew would
                # take a new timestamp, i.e. a new attempt, once the clock crosses a second.
                await post("/webhook", body(3), **captured)
                await post("/webhook", body(4), **signed(body(5), "msg-4"))  # wrong body
                await post("/admin/rules/reload", Authorization=f"Bearer {ADMIN_TOKEN}x")
                await post("/admin/rules/reload", Authorization=f"Bearer {ADMIN_TOKEN}")

                def logged(event: str, more_than: int = 0) -> bool:
                    return log_path.read_text().count(f'"event": "{event}"') > more_than

                # The worker meets GitLab's faults (the 429 storm among them) before the cut.
                await eventually(lambda: logged("gitlab rate limited"), within_s=30)
                claim_failures = log_path.read_text().count('"event": "claim failed"')
                link.cut()
                await post("/webhook", body(5), **token(NEW_SECRET))
                async with session.get(serve.url + "/readyz") as ready:
                    statuses.append(ready.status)
                # The worker meets the outage too before the link comes back.
                await eventually(lambda: logged("claim failed", claim_failures), within_s=30)
                link.restore()
                sim.faults.remove(storm)
                await post("/webhook", body(6), **signed(body(6), "msg-6"))
            store = Store.open(postgres_url)
            try:

                async def none_left() -> bool:
                    stats = await store.stats(utcnow())
                    return stats.pending == stats.processing == 0

                await eventually(none_left, within_s=60, every_s=0.1)
                done = {d.status for d in await store.list_deliveries(limit=100)}
            finally:
                await store.close()
        finally:
            assert serve.stop(signal.SIGTERM) == 0

    log = log_path.read_text()
    events = {json.loads(line).get("event") for line in log.splitlines() if line.startswith("{")}
    print(f"\n{len(log.splitlines())} log lines, {len(events)} kinds of event scanned")
    assert statuses == [202, 202, 401, 202, 401, 401, 403, 200, 503, 503, 202]
    assert done == {"done"}
    # The scenario did produce the lines that could have carried a secret.
    assert {"delivery refused", "gitlab rate limited", "storing delivery failed"} <= events
    for name, value in {
        "old webhook secret": OLD_SECRET,
        "new webhook secret": NEW_SECRET,
        "signing token": SIGNING_TOKEN,
        "signing key": SIGNING_TOKEN.removeprefix("whsec_"),
        "GitLab token": GITLAB_TOKEN,
        "admin token": ADMIN_TOKEN,
        "database password": DB_PASSWORD,
    }.items():
        assert value not in log, f"the {name} appears in the logs"


def test_the_database_password_is_scrubbed_like_every_other_secret(
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = Settings(_env_file=None, database_url=f"postgresql://hooks:{DB_PASSWORD}@db/hooks")
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    configure_logging(fmt="json", secrets=settings.secret_values())
    try:
        structlog.get_logger("test").error(
            "driver said", error=f"cannot reach {settings.database_url}"
        )
    finally:
        structlog.reset_defaults()
        root.handlers[:], root.level = handlers, level

    line = json.loads(capsys.readouterr().err)
    assert line["error"] == "cannot reach postgresql://hooks:[REDACTED]@db/hooks"
