"""`hooks preview NEW_RULES_DIR` as a team runs it: exit 0 without a difference, 1 with
differences, 2 when the new rules do not validate (each error as file:line)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hooks.storage.store import Store
from hooks.testing.simulator import Simulator
from tests.e2e import RULE_PACK
from tests.preview_history import (
    PROPOSED_SENTENCE,
    ROLLOVER_SENTENCE,
    pack_copy,
    payload,
    record,
    sprint_closed,
)

NOW = datetime.now(UTC)


@pytest.fixture
def env(tmp_path: Path, sqlite_url: str) -> dict[str, str]:
    """The shipped rules live, the database at `sqlite_url`, no token (dry-run)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("HOOKS_")}
    clean.update(HOOKS_DATABASE_URL=sqlite_url, HOOKS_RULES_DIR=str(RULE_PACK))
    return clean


async def history(sqlite_url: str, sim: Simulator | None = None) -> None:
    store = Store.open(sqlite_url)
    await store.migrate()
    try:
        await record(store, "Issue Hook", payload("issue_update_labels.json"), NOW - timedelta(1))
        if sim is not None:
            await record(
                store, "Milestone Hook", sprint_closed(sim, "Sprint 41"), NOW - timedelta(2)
            )
    finally:
        await store.close()


def hooks_preview(
    args: list[str], env: dict[str, str], cwd: Path
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hooks", "preview", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


async def test_unchanged_rules_exit_0(sqlite_url: str, env: dict[str, str], tmp_path: Path) -> None:
    await history(sqlite_url)
    same = pack_copy(tmp_path, "00-team.yaml", "vars:", "vars:")

    done = hooks_preview([str(same)], env, tmp_path)

    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("no action would change: 1 deliveries")


async def test_a_new_rule_without_gitlab_reads_exits_1_offline(
    sqlite_url: str, env: dict[str, str], tmp_path: Path
) -> None:
    await history(sqlite_url)
    candidate = pack_copy(
        tmp_path,
        "40-rituals.yaml",
        "rules:\n",
        "rules:\n- name: label-every-update\n  on: {issue: [update]}\n"
        "  do: [{add_labels: [triaged]}]\n",
    )

    done = hooks_preview([str(candidate), "--format", "json"], env, tmp_path)

    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    assert report["has_differences"] and report["gitlab"]["online"] is False
    [rule] = report["rules"]
    assert rule["rule"] == "label-every-update" and rule["added"]["actions"] == 1


async def test_a_changed_roll_over_exits_1_and_names_the_items(
    sqlite_url: str, env: dict[str, str], tmp_path: Path, gitlab_sim: Simulator
) -> None:
    await history(sqlite_url, gitlab_sim)
    candidate = pack_copy(tmp_path, "20-rollover.yaml", ROLLOVER_SENTENCE, PROPOSED_SENTENCE)
    env.update(HOOKS_GITLAB_URL=gitlab_sim.url, HOOKS_GITLAB_TOKEN=gitlab_sim.bot_token)

    done = hooks_preview([str(candidate), "--since", "3d", "--format", "markdown"], env, tmp_path)

    assert done.returncode == 1, done.stderr
    assert "#### `roll-over-first-time`" in done.stdout
    link = f"[demo/product#7]({gitlab_sim.url}/demo/product/-/issues/7)"
    assert link in done.stdout
    assert PROPOSED_SENTENCE in done.stdout
    assert {r.method for r in gitlab_sim.recorded()} == {"GET"}


async def test_new_rules_that_do_not_validate_exit_2_with_file_and_line(
    sqlite_url: str, env: dict[str, str], tmp_path: Path
) -> None:
    await history(sqlite_url)
    broken = pack_copy(
        tmp_path, "20-rollover.yaml", "- move_to_milestone: next", "- move_to_milestones: next"
    )

    done = hooks_preview([str(broken)], env, tmp_path)

    assert done.returncode == 2
    first = done.stderr.splitlines()[0]
    assert first.startswith(f"{broken / '20-rollover.yaml'}:")
    assert "rule 'roll-over-first-time': unknown key 'move_to_milestones'" in first
    assert done.stdout == ""


async def test_a_failing_example_in_the_new_rules_exits_2(
    sqlite_url: str, env: dict[str, str], tmp_path: Path
) -> None:
    await history(sqlite_url)
    broken = pack_copy(
        tmp_path,
        "20-rollover.yaml",
        '    - add_labels: ["rolled-over::1"]\n      once: per_sprint',
        '    - add_labels: ["rolled-over::one"]\n      once: per_sprint',
    )

    done = hooks_preview([str(broken)], env, tmp_path)

    assert done.returncode == 2
    assert "example 'the sprint closes with an open item'" in done.stderr
    assert f"{broken / '20-rollover.yaml'}:" in done.stderr


def test_a_bad_window_is_refused_by_name(env: dict[str, str], tmp_path: Path) -> None:
    done = hooks_preview([str(RULE_PACK), "--since", "two weeks"], env, tmp_path)

    assert done.returncode == 2
    assert "'two weeks' is not a duration" in done.stderr


async def test_the_window_defaults_to_hooks_preview_days(
    sqlite_url: str, env: dict[str, str], tmp_path: Path
) -> None:
    await history(sqlite_url)  # one update, a day before this test began
    env.update(HOOKS_PREVIEW_DAYS="1")

    done = hooks_preview([str(RULE_PACK), "--format", "json"], env, tmp_path)

    report = json.loads(done.stdout)
    assert report["deliveries"] == 0
    assert datetime.fromisoformat(report["until"]) - datetime.fromisoformat(
        report["since"]
    ) == timedelta(days=1)


def test_a_database_that_cannot_be_opened_exits_3_with_one_line(
    env: dict[str, str], tmp_path: Path
) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    env.update(HOOKS_DATABASE_URL=f"sqlite:///{tmp_path / 'a-file' / 'hooks.db'}")

    done = hooks_preview([str(RULE_PACK)], env, tmp_path)

    assert done.returncode == 3
    assert done.stderr.startswith("hooks: ") and "Traceback" not in done.stderr


def test_live_rules_that_do_not_load_exit_3_naming_them(
    env: dict[str, str], tmp_path: Path
) -> None:
    broken = pack_copy(tmp_path, "00-team.yaml", "vars:", "vars: [", name="live")
    env.update(HOOKS_RULES_DIR=str(broken))

    done = hooks_preview([str(RULE_PACK)], env, tmp_path)

    assert done.returncode == 3
    assert f"the live rules ({broken}) do not load" in done.stderr
    assert f"{broken / '00-team.yaml'}:" in done.stderr
