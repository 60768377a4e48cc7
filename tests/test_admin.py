"""The admin API: bearer token, replay, rules reload that keeps the running rules on error."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from pydantic import SecretStr

from hooks.service.app import create_app
from hooks.service.config import Settings
from hooks.service.context import SERVICE
from hooks.testing.waiting import eventually
from tests.conftest import SECRET, fixture_bytes

ADMIN = "admin-token-0123"
GOOD = "rules:\n- name: one\n  on: {issue: [open]}\n  do: [{add_labels: [x]}]\n"


@pytest.fixture
async def client(aiohttp_client: Any, settings: Settings) -> TestClient:
    (settings.rules_dir / "r.yaml").write_text(GOOD)
    return await aiohttp_client(
        create_app(settings.model_copy(update={"admin_token": SecretStr(ADMIN)}))
    )


def bearer(token: str = ADMIN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("headers", [{}, bearer("wrong"), {"Authorization": ADMIN}])
async def test_admin_routes_refuse_without_the_admin_token(
    client: TestClient, headers: dict[str, str]
) -> None:
    for path in ("/admin/rules/reload", "/admin/deliveries/1/replay"):
        response = await client.post(path, headers=headers)
        assert response.status == 403
        assert "admin token required" in (await response.json())["error"]


async def test_without_a_configured_admin_token_admin_routes_answer_403(
    aiohttp_client: Any, settings: Settings
) -> None:
    client = await aiohttp_client(create_app(settings))

    assert (await client.post("/admin/rules/reload", headers=bearer())).status == 403


async def test_replay_queues_a_processed_delivery_again(client: TestClient) -> None:
    stored = await client.post(
        "/webhook",
        data=fixture_bytes("issue_open.json"),
        headers={"X-Gitlab-Event": "Issue Hook", "X-Gitlab-Token": SECRET},
    )
    delivery = (await stored.json())["delivery"]
    await client.app[SERVICE].worker.run_until_idle()

    replayed = await client.post(f"/admin/deliveries/{delivery}/replay", headers=bearer())
    missing = await client.post("/admin/deliveries/999/replay", headers=bearer())

    assert (replayed.status, await replayed.json()) == (202, {"delivery": delivery, "queued": True})
    assert missing.status == 404

    async def second_run() -> int:  # the running worker picks it up; wait for its second record
        trail = await client.app[SERVICE].store.audit_for(delivery_id=delivery)
        runs = sum(r["kind"] == "event" and r["outcome"] == "received" for r in trail)
        return runs if runs == 2 else 0

    runs = await eventually(second_run, within_s=5)
    assert runs == 2


async def test_a_broken_reload_is_refused_with_its_errors_and_the_old_rules_stay(
    client: TestClient, settings: Settings
) -> None:
    (settings.rules_dir / "r.yaml").write_text(GOOD.replace("add_labels", "add_lables"))

    refused = await client.post("/admin/rules/reload", headers=bearer())

    body = await refused.json()
    assert refused.status == 422 and body["reloaded"] is False
    assert "unknown key 'add_lables' (did you mean 'add_labels'?)" in body["errors"][0]
    runtime = client.app[SERVICE].runtime
    assert runtime is not None and runtime.rules.rules is not None
    assert [r.name for r in runtime.rules.rules.rules] == ["one"]
    ready = await (await client.get("/readyz")).json()
    assert "last reload refused" in ready["checks"]["rules"]["detail"]


async def test_a_good_reload_takes_effect(client: TestClient, settings: Settings) -> None:
    (settings.rules_dir / "r.yaml").write_text(
        GOOD + GOOD.replace("rules:\n", "").replace("one", "two")
    )

    response = await client.post("/admin/rules/reload", headers=bearer())

    assert (response.status, await response.json()) == (200, {"reloaded": True, "rules": 2})


def test_a_broken_rules_folder_at_start_exits_non_zero_with_the_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from hooks.service.cli import main

    (tmp_path / "r.yaml").write_text(GOOD.replace("on: {issue: [open]}", "on: {issue: [opened]}"))
    monkeypatch.setenv("HOOKS_RULES_DIR", str(tmp_path))
    monkeypatch.setenv("HOOKS_DATABASE_URL", f"sqlite:///{tmp_path / 'h.db'}")

    assert main(["serve", "--port", "0"]) == 1
    err = capsys.readouterr().err
    assert "hooks: cannot start: rules do not load:" in err
    assert "r.yaml:3: rule 'one': on.issue.0: Input should be" in err
