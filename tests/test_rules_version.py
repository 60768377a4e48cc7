"""Every action traced to its rule version: the folder's content hash when the rules are a
local folder (rules from a GitLab project are named by commit: tests/test_rules_source.py)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from pydantic import SecretStr
from sqlalchemy import text

from hooks.rules.loader import content_version, folder_version, load_rules
from hooks.service.app import create_app
from hooks.service.config import Settings
from hooks.service.context import SERVICE
from hooks.storage.migrations import MIGRATIONS
from hooks.storage.store import open_store
from tests.test_dashboard import ADMIN, RULES, deliver, log_in

FILES = {
    "rules.yaml": RULES,
    "fixtures/issue.json": '{"object_kind": "issue"}',
    "00-vars.yaml": "vars: {team: demo}\n",
}


def write(folder: Path, names: list[str]) -> Path:
    for name in names:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(FILES[name])
    return folder


@pytest.fixture
def ui_settings(settings: Settings) -> Settings:
    (settings.rules_dir / "rules.yaml").write_text(RULES)
    return settings.model_copy(update={"admin_token": SecretStr(ADMIN)})


@pytest.fixture
async def client(aiohttp_client: Any, ui_settings: Settings) -> TestClient:
    return await aiohttp_client(create_app(ui_settings))


def test_a_folder_has_the_same_version_whatever_order_its_files_were_written_in(
    tmp_path: Path,
) -> None:
    one = write(tmp_path / "one", list(FILES))
    other = write(tmp_path / "other", list(reversed(FILES)))

    assert folder_version(one) == folder_version(other) == load_rules(other).version
    as_bytes = {name: text.encode() for name, text in FILES.items()}
    assert content_version(dict(reversed(as_bytes.items()))) == content_version(as_bytes)


def test_a_changed_fixture_is_a_new_version(tmp_path: Path) -> None:
    folder = write(tmp_path / "rules", list(FILES))
    before = load_rules(folder).version
    (folder / "fixtures" / "issue.json").write_text('{"object_kind": "issue", "x": 1}')

    assert load_rules(folder).version != before


async def test_every_audit_line_of_a_processed_delivery_names_the_rules_version(
    client: TestClient, ui_settings: Settings
) -> None:
    delivery = await deliver(client)

    trail = await client.app[SERVICE].store.audit_for(delivery_id=delivery)
    expected = folder_version(ui_settings.rules_dir)
    assert trail and {line["rules_version"] for line in trail} == {expected}


async def test_the_dashboard_trace_names_the_rules_version(
    client: TestClient, ui_settings: Settings
) -> None:
    delivery = await deliver(client)
    await log_in(client)

    page = await (await client.get(f"/ui/deliveries/{delivery}")).text()

    assert f"Rules version: <code>{folder_version(ui_settings.rules_dir)}</code>" in page


async def test_the_rules_page_names_the_version_in_force(
    client: TestClient, ui_settings: Settings
) -> None:
    await log_in(client)

    page = await (await client.get("/ui/rules")).text()

    assert f"version <code>{folder_version(ui_settings.rules_dir)}</code>" in page


async def test_the_metrics_name_the_rules_version_in_force(
    client: TestClient, ui_settings: Settings
) -> None:
    body = await (await client.get("/metrics")).text()

    version = folder_version(ui_settings.rules_dir)
    assert f'hooks_rules_version_info{{source="folder",version="{version}"}} 1.0' in body
    assert "hooks_rules_refused_errors 0.0" in body


async def test_a_reload_with_changed_rules_moves_the_metric_to_the_new_version(
    client: TestClient, ui_settings: Settings
) -> None:
    before = folder_version(ui_settings.rules_dir)
    (ui_settings.rules_dir / "rules.yaml").write_text(RULES.replace("A bug!", "A bug, noted."))
    reloaded = await client.post(
        "/admin/rules/reload", headers={"Authorization": f"Bearer {ADMIN}"}
    )
    body = await (await client.get("/metrics")).text()

    assert reloaded.status == 200
    assert f'version="{folder_version(ui_settings.rules_dir)}"' in body
    assert f'version="{before}"' not in body


async def test_deliveries_show_prints_the_rules_version(
    client: TestClient, ui_settings: Settings
) -> None:
    delivery = await deliver(client)
    env = {**os.environ, "HOOKS_DATABASE_URL": ui_settings.database_url}

    shown = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "hooks", "deliveries", "--show", str(delivery)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )

    assert shown.returncode == 0, shown.stderr
    assert f"rules: {folder_version(ui_settings.rules_dir)}" in shown.stdout


async def test_audit_lines_written_before_the_upgrade_keep_no_version(sqlite_url: str) -> None:
    from alembic import command
    from alembic.config import Config

    store = open_store(sqlite_url)
    try:

        def to_0003(conn: Any) -> None:
            cfg = Config()
            cfg.set_main_option("script_location", str(MIGRATIONS))
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "0003")

        async with store.engine.connect() as conn:
            await conn.run_sync(to_0003)
            await conn.execute(
                text(
                    "INSERT INTO audit (kind, outcome, detail, created_at)"
                    " VALUES ('event', 'received', '{}', '2026-12-01 10:00:00')"
                )
            )
            await conn.commit()
        await store.migrate()

        [line] = await store.audit_for(subject=None)
    finally:
        await store.close()
    assert line["outcome"] == "received" and line["rules_version"] is None
