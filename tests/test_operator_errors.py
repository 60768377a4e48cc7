"""An operator's mistake gets one clear line and a non-zero exit, never a traceback.

Wrong HOOKS_* values, a database that cannot be opened, a busy port, a closed pipe: each as
a user meets it, through the real `hooks` command.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from hooks.service.cli import main
from hooks.testing.serve_process import serve_environment

WRONG_VALUES = [
    ("HOOKS_HEALTH_STATUS_MODE", "bogus", "Input should be 'label', 'native' or 'both'"),
    (
        "HOOKS_DATABASE_URL",
        "mysql://u:hunter2@db/x",
        "unsupported database URL scheme 'mysql'; use sqlite:///path or postgresql://",
    ),
    ("HOOKS_DATABASE_URL", "not a url", "not a database URL; use sqlite:///path"),
    ("HOOKS_TIMEZONE", "Mars/Olympus", "unknown time zone 'Mars/Olympus'"),
    ("HOOKS_LOG_LEVEL", "LOUD", "use DEBUG, INFO, WARNING, ERROR or CRITICAL"),
    ("HOOKS_MAX_BODY_BYTES", "-1", "Input should be greater than 0"),
    ("HOOKS_WORKER_CONCURRENCY", "four", "Input should be a valid integer"),
    ("HOOKS_GITLAB_URL", "gitlab.example.com", "must be an http(s) URL"),
    ("HOOKS_UI_LOGIN_ATTEMPTS", "0", "Input should be greater than 0"),
    ("HOOKS_UI_LOGIN_WINDOW_S", "ten minutes", "Input should be a valid number"),
]


@pytest.fixture
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A working directory without .env and an environment without HOOKS_* variables."""
    monkeypatch.chdir(tmp_path)
    for name in [n for n in os.environ if n.startswith("HOOKS_")]:
        monkeypatch.delenv(name)
    (tmp_path / "rules").mkdir()
    return serve_environment(HOOKS_RULES_DIR=str(tmp_path / "rules"), HOOKS_LOG_FORMAT="json")


def hooks(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hooks", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(("name", "value", "allowed"), WRONG_VALUES)
def test_a_wrong_setting_names_the_variable_and_what_is_allowed(
    name: str,
    value: str,
    allowed: str,
    clean_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv(name, value)

    status = main(["deliveries"])

    [line] = capsys.readouterr().err.splitlines()
    assert status == 2
    assert line.startswith(f"hooks: {name}: ")
    assert allowed in line
    assert "hunter2" not in line


@pytest.mark.parametrize("command", [["deliveries"], ["replay", "1"], ["schedule"]])
def test_a_database_that_cannot_be_opened_is_one_line_for_every_command(
    command: list[str],
    clean_env: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / "rules" / "r.yaml").write_text(
        "rules:\n- name: retro\n  on: {schedule: {cron: '0 9 * * 3'}}\n"
        "  do: [{create_issue: {project: demo/marketing, title: Retro}}]\n"
    )
    # A folder where the SQLite file should be: SQLite cannot open it, as with a read-only ./var.
    (tmp_path / "hooks.db").mkdir()
    monkeypatch.setenv("HOOKS_DATABASE_URL", f"sqlite:///{tmp_path / 'hooks.db'}")
    monkeypatch.setenv("HOOKS_RULES_DIR", str(tmp_path / "rules"))

    status = main(command)

    assert status == 1
    assert capsys.readouterr().err == (
        "hooks: cannot use the database (HOOKS_DATABASE_URL): unable to open database file\n"
    )


def test_serve_with_an_unusable_database_exits_1_with_the_reason(
    clean_env: dict[str, str], tmp_path: Path
) -> None:
    (tmp_path / "var").write_text("a file where the database folder should be")
    clean_env["HOOKS_DATABASE_URL"] = "sqlite:///./var/hooks.db"

    done = hooks(["serve", "--port", "0"], clean_env, tmp_path)

    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert done.stderr.splitlines()[-1].startswith(
        "hooks: cannot start: cannot use the database (HOOKS_DATABASE_URL): [Errno 17] File exists"
    )


def test_serve_on_a_busy_port_says_so_and_starts_nothing(
    clean_env: dict[str, str], tmp_path: Path
) -> None:
    clean_env["HOOKS_DATABASE_URL"] = f"sqlite:///{tmp_path / 'hooks.db'}"
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]

        done = hooks(["serve", "--port", str(port)], clean_env, tmp_path)

    assert done.returncode == 1
    assert done.stderr == f"hooks: cannot listen on 127.0.0.1:{port}: Address already in use\n"
    assert not (tmp_path / "hooks.db").exists()


def test_serve_says_where_it_listens_and_what_is_missing_or_misspelt(
    clean_env: dict[str, str], tmp_path: Path
) -> None:
    clean_env["HOOKS_DATABASE_URL"] = f"sqlite:///{tmp_path / 'hooks.db'}"
    clean_env["HOOKS_GITLAB_TOKN"] = "glpat-misspelt-name"
    proc = subprocess.Popen(
        [sys.executable, "-m", "hooks", "serve", "--port", "0"],
        env=clean_env,
        cwd=tmp_path,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    lines = []
    for line in proc.stderr:
        lines.append(line)
        if "every delivery is refused" in line:
            break
    proc.terminate()
    assert proc.wait(timeout=30) == 0

    log = "".join(lines)
    assert '"event": "listening"' in log and '"url": "http://127.0.0.1:' in log
    assert '"no HOOKS_WEBHOOK_SECRET: every delivery is refused with 401"' in log
    assert '"no rules: deliveries are stored and nothing is done"' in log  # rules/ is empty
    assert '"variable": "HOOKS_GITLAB_TOKN", "event": "unknown setting ignored"' in log
    assert "glpat-misspelt-name" not in log
    assert "Added job" not in log  # APScheduler's chatter stays below WARNING


def test_output_cut_short_by_the_reader_ends_quietly(
    clean_env: dict[str, str], tmp_path: Path
) -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before a byte is written, like `| head -1` at once
    try:
        done = subprocess.run(
            [sys.executable, "-m", "hooks", "schema"],
            env=clean_env,
            cwd=tmp_path,
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
        )
    finally:
        os.close(write_end)

    assert done.stderr == ""
    assert done.returncode == 1
