"""`POST /admin/preview`: a CI job sends the candidate rule files, the service answers the
preview report (JSON or Markdown); a body it cannot use is refused, naming what is wrong."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from pydantic import SecretStr

from hooks.service.app import create_app
from hooks.service.config import Settings
from hooks.service.context import SERVICE
from hooks.testing.simulator import Simulator
from hooks.testing.waiting import eventually
from tests.conftest import SECRET
from tests.e2e import RULE_PACK, service_settings
from tests.preview_history import PROPOSED_SENTENCE, ROLLOVER_SENTENCE, sprint_closed

ADMIN = "admin-token-0123"


def pack_files() -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted(RULE_PACK.glob("*.yaml"))}


def proposed() -> dict[str, str]:
    files = pack_files()
    files["20-rollover.yaml"] = files["20-rollover.yaml"].replace(
        ROLLOVER_SENTENCE, PROPOSED_SENTENCE
    )
    return files


def bearer() -> dict[str, str]:
    return {"Authorization": f"Bearer {ADMIN}"}


@pytest.fixture
def preview_settings(gitlab_sim: Simulator, tmp_path: Path) -> Settings:
    # Intake only: the recorded close stays as GitLab sent it, nothing acts on it.
    return service_settings(
        gitlab_sim, tmp_path, RULE_PACK, admin_token=SecretStr(ADMIN), worker_concurrency=0
    )


@pytest.fixture
async def client(
    aiohttp_client: Any, preview_settings: Settings, gitlab_sim: Simulator
) -> TestClient:
    client: TestClient = await aiohttp_client(create_app(preview_settings))
    stored = await client.post(
        "/webhook",
        json=sprint_closed(gitlab_sim, "Sprint 41"),
        headers={"X-Gitlab-Event": "Milestone Hook", "X-Gitlab-Token": SECRET},
    )
    assert stored.status == 202
    return client


async def test_the_report_names_the_items_whose_roll_over_changes(
    client: TestClient, gitlab_sim: Simulator
) -> None:
    gitlab_sim.clear_requests()

    response = await client.post(
        "/admin/preview", json={"files": proposed(), "since": "3d"}, headers=bearer()
    )

    assert response.status == 200
    report = await response.json()
    assert report["has_differences"] and report["deliveries"] == 1
    [rollover] = [r for r in report["rules"] if r["rule"] == "roll-over-first-time"]
    [item] = rollover["altered"]["shown"]
    assert item["subject"] == "demo/product#7"
    assert item["url"] == f"{gitlab_sim.url}/demo/product/-/issues/7"
    assert {r.method for r in gitlab_sim.recorded()} == {"GET"}


async def test_markdown_is_answered_when_asked_for(
    client: TestClient, gitlab_sim: Simulator
) -> None:
    response = await client.post(
        "/admin/preview",
        json={"files": proposed()},
        headers={**bearer(), "Accept": "text/markdown"},
    )

    assert response.status == 200
    assert response.content_type == "text/markdown"
    text = await response.text()
    assert text.startswith("**Rules preview:**")
    assert f"[demo/product#7]({gitlab_sim.url}/demo/product/-/issues/7)" in text


async def test_the_live_rules_again_show_no_difference(client: TestClient) -> None:
    response = await client.post("/admin/preview", json={"files": pack_files()}, headers=bearer())

    assert response.status == 200
    assert (await response.json())["has_differences"] is False


async def test_without_the_admin_token_the_preview_is_refused(client: TestClient) -> None:
    response = await client.post("/admin/preview", json={"files": proposed()})

    assert response.status == 403


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"{not json", "body is not JSON"),
        (b"[1, 2]", "body is a JSON list, not an object"),
        (b'{"since": "14d"}', "'files' must be an object"),
        (b'{"files": {"a.yaml": 3}}', "files.a.yaml: the file's text must be a string"),
        (b'{"files": {"a.yaml": ""}, "sinse": "3d"}', "unknown key 'sinse'"),
        (
            b'{"files": {"a.yaml": ""}, "since": "two weeks"}',
            "'since' 'two weeks' is not a duration",
        ),
    ],
)
async def test_a_malformed_body_is_refused_with_400(
    client: TestClient, body: bytes, error: str
) -> None:
    response = await client.post("/admin/preview", data=body, headers=bearer())

    assert response.status == 400
    assert error in (await response.json())["error"]


UP = ".." + "/"  # spelled apart: no file of the checkout names a path outside it


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        (UP + "20-rollover.yaml", "must be relative, without '..'"),
        ("/etc/20-rollover.yaml", "must be relative, without '..'"),
        ("notes.txt", "must end in .yaml or .yml"),
        (
            "team/20-rollover.yaml",
            "must be a file directly in the rules folder (sub-folders are not read)",
        ),
    ],
)
async def test_a_file_name_not_allowed_is_refused_with_422(
    client: TestClient, name: str, problem: str
) -> None:
    files = {**pack_files(), name: "rules: []\n"}

    response = await client.post("/admin/preview", json={"files": files}, headers=bearer())

    assert response.status == 422
    assert (await response.json())["errors"] == [f"{name}: {problem}"]


async def test_a_file_over_1_mib_is_refused_with_413(client: TestClient) -> None:
    files = {**pack_files(), "50-big.yaml": "# padding\n" * 110_000}

    response = await client.post("/admin/preview", json={"files": files}, headers=bearer())

    assert response.status == 413
    [error] = (await response.json())["errors"]
    assert error.startswith("50-big.yaml: 1100000 bytes; a rule file holds at most 1048576")


async def test_more_than_200_files_are_refused_with_413(client: TestClient) -> None:
    files = {f"{n:03}-empty.yaml": "rules: []\n" for n in range(201)}

    response = await client.post("/admin/preview", json={"files": files}, headers=bearer())

    assert response.status == 413
    assert (await response.json())["errors"] == ["201 files; at most 200"]


async def test_a_body_over_the_size_bound_is_refused_with_413(
    aiohttp_client: Any, preview_settings: Settings
) -> None:
    small = preview_settings.model_copy(update={"max_body_bytes": 100_000})
    client = await aiohttp_client(create_app(small))
    body = json.dumps({"files": {"a.yaml": "#" * 200_000}})

    response = await client.post("/admin/preview", data=body, headers=bearer())

    assert response.status == 413
    assert "HOOKS_MAX_BODY_BYTES" in (await response.json())["error"]


async def test_rules_that_do_not_validate_are_answered_422_with_file_and_line(
    client: TestClient,
) -> None:
    files = pack_files()
    files["20-rollover.yaml"] = files["20-rollover.yaml"].replace(
        "- move_to_milestone: next", "- move_to_milestones: next", 1
    )

    response = await client.post("/admin/preview", json={"files": files}, headers=bearer())

    assert response.status == 422
    report = await response.json()
    assert report["valid"] is False and report["rules"] == []
    [error] = report["validation_errors"]
    line = files["20-rollover.yaml"].splitlines().index("    - move_to_milestones: next") + 1
    assert error.startswith(f"20-rollover.yaml:{line}: rule 'roll-over-first-time': unknown key")


async def test_a_file_that_is_not_yaml_is_answered_422_with_its_line(client: TestClient) -> None:
    files = {**pack_files(), "50-draft.yaml": "rules:\n- name: half\n  on: {issue: [open]\n"}

    response = await client.post("/admin/preview", json={"files": files}, headers=bearer())

    assert response.status == 422
    [error] = (await response.json())["validation_errors"]
    assert error.startswith("50-draft.yaml:4: YAML: ")


async def test_after_the_live_rules_rolled_a_sprint_over_the_preview_still_names_its_items(
    aiohttp_client: Any, preview_settings: Settings, gitlab_sim: Simulator
) -> None:
    # The service acts this time: the close rolls demo/product#7 over to Sprint 42 on GitLab.
    acting = preview_settings.model_copy(update={"worker_concurrency": 2})
    client: TestClient = await aiohttp_client(create_app(acting))
    stored = await client.post(
        "/webhook",
        json=sprint_closed(gitlab_sim, "Sprint 41"),
        headers={"X-Gitlab-Event": "Milestone Hook", "X-Gitlab-Token": SECRET},
    )
    delivery = (await stored.json())["delivery"]
    store = client.app[SERVICE].store

    async def processed() -> bool:
        found = await store.get_delivery(delivery)
        return found is not None and found.status == "done"

    await eventually(processed, what="the close processed by the live rules")
    assert gitlab_sim.issue("demo/product", 7)["milestone"]["title"] == "Sprint 42"
    gitlab_sim.clear_requests()

    response = await client.post("/admin/preview", json={"files": proposed()}, headers=bearer())

    report = await response.json()
    [rollover] = [r for r in report["rules"] if r["rule"] == "roll-over-first-time"]
    assert [s["subject"] for s in rollover["altered"]["shown"]] == ["demo/product#7"]
    assert report["gitlab"]["restored"] == ["demo/product#7"]
    assert {r.method for r in gitlab_sim.recorded()} == {"GET"}
