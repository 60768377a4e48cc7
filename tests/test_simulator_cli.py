"""`hooks simulate`: the simulator as a command, printing its URL and dumping its state on exit."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from pathlib import Path

import requests
from ruamel.yaml import YAML


def test_hooks_simulate_serves_the_demo_and_dumps_its_state_on_exit(tmp_path: Path) -> None:
    dump = tmp_path / "state.yaml"
    command = ["-m", "hooks", "simulate", "--port", "0", "--token", "t0k", "--dump", str(dump)]
    proc = subprocess.Popen(
        [sys.executable, *command],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        banner = proc.stdout.readline()
        url = re.search(r"http://127\.0\.0\.1:\d+", banner)
        assert url is not None and "t0k" in banner
        user = requests.get(f"{url[0]}/api/v4/user", headers={"PRIVATE-TOKEN": "t0k"}, timeout=5)
        requests.put(
            f"{url[0]}/api/v4/projects/demo%2Fproduct/issues/1",
            headers={"PRIVATE-TOKEN": "t0k"},
            json={"title": "Renamed from the command line"},
            timeout=5,
        )
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)

    assert user.json()["username"] == "hooks-bot"
    assert proc.returncode == 0
    state = YAML(typ="safe").load(dump.read_text())
    assert "Renamed from the command line" in [i["title"] for i in state["issues"]]
