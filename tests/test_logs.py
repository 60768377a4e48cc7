"""The service's log: one JSON object per line, whichever thread or library wrote it."""

from __future__ import annotations

import io
import json
import logging
import sys
import threading

import pytest
import structlog

from hooks.service.logs import configure_logging


def test_lines_from_structlog_and_stdlib_in_many_threads_never_share_a_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GitLab calls run in gateway threads and libraries log through stdlib while the loop
    # logs through structlog: two writers, one stream.
    captured = io.StringIO()
    monkeypatch.setattr(sys, "stderr", captured)
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible: races show at once
    configure_logging(level="INFO", fmt="json")
    start = threading.Barrier(8)

    def write(n: int) -> None:
        start.wait()
        for i in range(300):
            if n % 2:
                structlog.get_logger().info("from structlog", thread=n, i=i)
            else:
                logging.getLogger("urllib3").warning("from stdlib %s %s", n, i)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    sys.setswitchinterval(interval)

    lines = captured.getvalue().splitlines()
    assert len(lines) == 8 * 300
    assert all(isinstance(json.loads(line), dict) for line in lines)
