"""`hooks simulate`: the simulator as a command, printing its URL and dumping its state on exit."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from ruamel.yaml import YAML

from hooks.service.cli import main
from hooks.testing.cli import add_hooks
from hooks.testing.simulator import Simulator
from tests.sim_seed import TEAM_SEED


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


def test_hooks_simulate_rate_limit_throttles_each_user_per_minute() -> None:
    command = ["-m", "hooks", "simulate", "--port", "0", "--rate-limit", "2"]
    proc = subprocess.Popen([sys.executable, *command], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        url = re.search(r"http://127\.0\.0\.1:\d+", proc.stdout.readline())
        assert url is not None
        if time.time() % 60 > 55:  # the windows are minutes of Unix time: not across an edge
            time.sleep(60 - time.time() % 60)
        answers = [
            requests.get(f"{url[0]}/api/v4/user", headers={"PRIVATE-TOKEN": "sim-token"}, timeout=5)
            for _ in range(3)
        ]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)

    assert [a.status_code for a in answers] == [200, 200, 429]
    assert [a.headers["RateLimit-Remaining"] for a in answers] == ["1", "0", "0"]
    assert (answers[2].text, answers[2].headers["RateLimit-Limit"]) == ("Retry later\n", "2")


@pytest.mark.parametrize(
    ("seed", "says"),
    [
        ("projects: [{path: x}\n", "cannot read seed {file}: while parsing a flow sequence"),
        ("projects: [{name: x}]\n", "seed {file} is not a simulator state (format: hooks/testing/"),
        ("[1, 2]\n", "seed {file} is not a simulator state (format: hooks/testing/"),
    ],
)
def test_a_seed_that_is_not_a_simulator_state_is_refused_in_words(
    seed: str, says: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = tmp_path / "seed.yaml"
    file.write_text(seed)

    status = main(["simulate", "--port", "0", "--seed", str(file)])

    err = capsys.readouterr().err
    assert status == 1
    assert err.startswith("hooks: " + says.format(file=file))
    assert "Traceback" not in err


def test_a_busy_port_is_refused_in_one_line() -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "hooks", "simulate", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
        )

    assert done.returncode == 1
    assert done.stderr == f"hooks: cannot listen on 127.0.0.1:{port}: Address already in use\n"


def test_hook_url_hooks_each_top_level_group_and_each_project_outside_groups() -> None:
    sim = Simulator({**TEAM_SEED, "projects": [*TEAM_SEED["projects"], {"path": "solo"}]})

    add_hooks(sim, "http://127.0.0.1:9/hook", "s3cret")

    owners = sorted(
        sim.state.groups[h["group_id"]]["full_path"]
        if h["group_id"]
        else sim.state.projects[h["project_id"]]["path_with_namespace"]
        for h in sim.state.hooks.values()
    )
    assert owners == ["acme", "solo"]


def test_a_seed_puts_a_rules_folder_beside_it_into_a_repository(tmp_path: Path) -> None:
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "20-rollover.yaml").write_text("rules: []\n")
    seed = tmp_path / "seed.yaml"
    seed.write_text(
        "projects: [{path: team/rules}]\n"
        "repositories: [{project: team/rules, from_dir: rules, prefix: rules}]\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "hooks", "simulate", "--port", "0", "--seed", str(seed)],
        stdout=subprocess.PIPE,
        text=True,
        cwd="/",  # the folder is found beside the seed, not in the working directory
    )
    try:
        assert proc.stdout is not None
        url = re.search(r"http://127\.0\.0\.1:\d+", proc.stdout.readline())
        assert url is not None
        raw = requests.get(
            f"{url[0]}/api/v4/projects/team%2Frules/repository/files/rules%2F20-rollover.yaml/raw",
            headers={"PRIVATE-TOKEN": "sim-token"},
            timeout=5,
        )
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)

    assert (raw.status_code, raw.text) == (200, "rules: []\n")


def test_a_seed_repository_from_a_missing_folder_is_refused_in_words(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = tmp_path / "seed.yaml"
    file.write_text(
        "projects: [{path: team/rules}]\nrepositories: [{project: team/rules, from_dir: nowhere}]\n"
    )

    status = main(["simulate", "--port", "0", "--seed", str(file)])

    err = capsys.readouterr().err
    assert status == 1
    assert f"{tmp_path / 'nowhere'}: not a folder" in err and "Traceback" not in err
