"""`hooks serve` as a real process: killed mid-burst it loses nothing and repeats nothing."""

from __future__ import annotations

import asyncio
import json
import queue
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from hooks.processing.worker import utcnow
from hooks.storage.store import Store
from hooks.testing.serve_process import ServeProcess, free_port, serve_environment
from hooks.testing.waiting import eventually, eventually_sync
from tests.conftest import SECRET, fixture_bytes


@pytest.fixture
def serve_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    (tmp_path / "rules").mkdir()
    yield serve_environment(
        HOOKS_DATABASE_URL=f"sqlite:///{tmp_path / 'hooks.db'}",
        HOOKS_WEBHOOK_SECRET=SECRET,
        HOOKS_RULES_DIR=str(tmp_path / "rules"),
        HOOKS_LEASE_SECONDS="1",
        HOOKS_POLL_INTERVAL_S="0.05",
        HOOKS_WORKER_CONCURRENCY="2",
        HOOKS_LOG_FORMAT="json",
    )


def issue_body(n: int) -> bytes:
    payload = json.loads(fixture_bytes("issue_open.json"))
    payload["object_attributes"]["iid"] = n
    payload["object_attributes"]["title"] = f"Item {n}"
    return json.dumps(payload).encode()


async def send(session: aiohttp.ClientSession, url: str, n: int) -> int | None:
    """Post delivery n; the delivery id if it was acknowledged with 202, else None."""
    headers = {
        "X-Gitlab-Event": "Issue Hook",
        "X-Gitlab-Token": SECRET,
        "Idempotency-Key": f"delivery-{n}",
    }
    try:
        async with session.post(url + "/webhook", data=issue_body(n), headers=headers) as response:
            if response.status == 202:
                return int((await response.json())["delivery"])
    except (TimeoutError, aiohttp.ClientError):
        pass
    return None


async def wait_all_finished(database_url: str, within_s: float = 60) -> Store:
    store = Store.open(database_url)

    async def none_left() -> bool:
        stats = await store.stats(utcnow())
        assert stats.pending == 0 and stats.processing == 0, f"still pending: {stats}"
        return True

    await eventually(none_left, within_s=within_s, every_s=0.1)
    return store


async def test_sigkill_mid_burst_loses_no_acknowledged_delivery_and_repeats_none(
    serve_env: dict[str, str], tmp_path: Path
) -> None:
    first = ServeProcess(serve_env, tmp_path / "serve.log")
    await first.ready()
    acknowledged: list[int] = []
    async with aiohttp.ClientSession() as session:
        tasks = [asyncio.create_task(send(session, first.url, n)) for n in range(1, 301)]
        for done in asyncio.as_completed(tasks):
            delivery_id = await done
            if delivery_id is not None:
                acknowledged.append(delivery_id)
            if len(acknowledged) == 150:
                first.stop(signal.SIGKILL)
        await asyncio.gather(*tasks)
    assert len(acknowledged) >= 150
    # The kill must have hit unfinished work, or the test would prove nothing.
    probe = Store.open(serve_env["HOOKS_DATABASE_URL"])
    left = await probe.stats(utcnow())
    await probe.close()
    assert left.pending + left.processing > 0

    second = ServeProcess(serve_env, tmp_path / "serve.log")
    await second.ready()
    store = await wait_all_finished(serve_env["HOOKS_DATABASE_URL"])
    try:
        for delivery_id in acknowledged:
            delivery = await store.get_delivery(delivery_id)
            assert delivery is not None and delivery.status == "done", delivery_id
        recorded: Counter[int] = Counter()
        for delivery in await store.list_deliveries(limit=1000):
            for line in await store.audit_for(delivery_id=delivery.id):
                if line["kind"] == "event" and line["outcome"] == "received":
                    recorded[delivery.id] += 1
        assert set(acknowledged) <= set(recorded)
        assert max(recorded.values()) == 1, "a delivery was processed twice"
    finally:
        await store.close()
        assert second.stop(signal.SIGTERM) == 0


async def test_sigterm_stops_cleanly_with_exit_status_zero(
    serve_env: dict[str, str], tmp_path: Path
) -> None:
    server = ServeProcess(serve_env, tmp_path / "serve.log")
    await server.ready()
    async with aiohttp.ClientSession() as session:
        ids = await asyncio.gather(*(send(session, server.url, n) for n in range(20)))
    assert all(ids)
    assert server.stop(signal.SIGTERM) == 0
    log = (tmp_path / "serve.log").read_text()
    assert '"event": "service stopped"' in log
    assert SECRET not in log


class LoggedServe:
    """`hooks serve` whose JSON log lines are read as they come, to act on one of them."""

    def __init__(self, env: dict[str, str]) -> None:
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "hooks", "serve", "--port", str(free_port())],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._queue.put(line)
        self._queue.put(None)

    def wait_for_event(self, prefix: str, within_s: float = 30) -> None:
        """Return once a log line whose event starts with `prefix` was written.

        Not a poll (so not hooks.testing.waiting): a blocking read of each line as it comes,
        so the test acts at once on the line, inside the window it opens.
        """
        deadline = time.monotonic() + within_s
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self._queue.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                raise AssertionError(f"exited before {prefix!r}:\n{''.join(self.lines)}")
            self.lines.append(line)
            if _event_of(line).startswith(prefix):
                return
        raise AssertionError(f"no {prefix!r} within {within_s}s:\n{''.join(self.lines)}")

    def wait_until_it_catches(self, sig: signal.Signals, within_s: float = 30) -> None:
        """Return once the process has a handler of its own for `sig` (Linux: SigCgt)."""

        def catches() -> bool:
            status = Path(f"/proc/{self.proc.pid}/status").read_text()
            caught = int(status.split("SigCgt:")[1].split()[0], 16)
            return bool(caught & (1 << (sig - 1)))

        # Every millisecond: the signal must go as soon as the handler is there.
        eventually_sync(
            catches,
            within_s=within_s,
            every_s=0.001,
            ignoring=(),
            what=f"hooks serve catches {sig.name}",
        )

    def exit_status(self) -> int:
        code = self.proc.wait(timeout=60)
        while (line := self._queue.get(timeout=10)) is not None:
            self.lines.append(line)
        return code


def _event_of(line: str) -> str:
    try:
        return str(json.loads(line).get("event", ""))
    except ValueError:
        return ""


# (when the first signal is sent, the signals, when the second one is sent if not at once)
SIGNAL_POINTS = [
    pytest.param("caught", [signal.SIGTERM], None, id="as-soon-as-it-catches-sigterm"),
    pytest.param("rules loaded", [signal.SIGTERM], None, id="rules-loaded"),
    pytest.param("listening", [signal.SIGTERM], None, id="right-after-listening"),
    pytest.param("Running upgrade  -> 0001", [signal.SIGTERM], None, id="first-migration"),
    pytest.param("Running upgrade 0002 -> 0003", [signal.SIGTERM], None, id="last-migration"),
    pytest.param("scheduler started", [signal.SIGTERM], None, id="scheduler-started"),
    pytest.param("service started", [signal.SIGTERM], None, id="service-started"),
    pytest.param("caught", [signal.SIGTERM] * 2, None, id="twice-as-soon-as-caught"),
    pytest.param("listening", [signal.SIGTERM] * 2, None, id="twice-right-after-listening"),
    pytest.param("Running upgrade  -> 0001", [signal.SIGTERM] * 2, None, id="twice-migrating"),
    pytest.param("service started", [signal.SIGTERM] * 2, None, id="twice-like-timeout"),
    pytest.param("service started", [signal.SIGINT] * 2, None, id="ctrl-c-pressed-twice"),
    pytest.param(
        "service started", [signal.SIGTERM] * 2, "stopping", id="second-one-during-the-drain"
    ),
    pytest.param(
        "service started", [signal.SIGTERM] * 2, "service stopped", id="second-one-after-drain"
    ),
]


@pytest.mark.parametrize(("first_at", "signals", "second_at"), SIGNAL_POINTS)
def test_a_stop_signal_at_any_point_of_start_up_stops_cleanly_with_exit_status_zero(
    serve_env: dict[str, str], first_at: str, signals: list[signal.Signals], second_at: str | None
) -> None:
    server = LoggedServe(serve_env)  # a fresh database: start-up runs every migration
    if first_at == "caught":
        server.wait_until_it_catches(signals[0])
    else:
        server.wait_for_event(first_at)
    for n, sig in enumerate(signals):
        if n and second_at:
            server.wait_for_event(second_at)
        server.proc.send_signal(sig)

    status = server.exit_status()

    log = "".join(server.lines)
    assert status == 0, log
    events = [json.loads(line) for line in server.lines]  # every line is a JSON log line
    assert events[-1]["event"] == "service stopped", log
    assert [e for e in events if e["level"] in ("error", "critical")] == []
