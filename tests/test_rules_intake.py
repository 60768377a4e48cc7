"""POST /webhook with HOOKS_RULES_PROJECT: the rules project's pushes to the rules ref and its
merge requests into it are stored; every other push or merge request is still ignored."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from hooks.processing.dispatch import RecordingDispatcher
from hooks.service.app import StartupError, create_app
from hooks.service.config import Settings
from hooks.service.context import SERVICE
from tests.conftest import SECRET, fixture_bytes

# Real payloads (tests/fixtures/webhooks/SOURCES.md): a push to mike/diaspora's master, a
# merge request of gitlabhq/gitlab-test into master; both name their default branch master.
PUSH = json.loads(fixture_bytes("clientgo_push.json"))
MERGE_REQUEST = json.loads(fixture_bytes("clientgo_merge_request.json"))


async def post(client: TestClient, header: str, payload: dict[str, Any]) -> dict[str, Any]:
    response = await client.post(
        "/webhook",
        data=json.dumps(payload),
        headers={"X-Gitlab-Event": header, "X-Gitlab-Token": SECRET},
    )
    assert response.status == 202
    answer: dict[str, Any] = await response.json()
    return answer


def client_for(aiohttp_client: Any, settings: Settings, **rules: str) -> Any:
    # Intake only: the rules source itself needs GitLab (tests/test_rules_source.py).
    configured = settings.model_copy(update=rules)
    return aiohttp_client(create_app(configured, dispatcher=RecordingDispatcher()))


async def stored_kind(client: TestClient, answer: dict[str, Any]) -> str | None:
    delivery = await client.app[SERVICE].store.get_delivery(answer["delivery"])
    assert delivery is not None
    return delivery.kind


async def test_a_push_to_the_rules_projects_default_branch_is_stored(
    aiohttp_client: Any, settings: Settings
) -> None:
    client = await client_for(aiohttp_client, settings, rules_project="mike/diaspora")

    answer = await post(client, "Push Hook", PUSH)

    assert await stored_kind(client, answer) == "push"


async def test_the_rules_project_may_be_named_by_its_id(
    aiohttp_client: Any, settings: Settings
) -> None:
    client = await client_for(aiohttp_client, settings, rules_project="15")

    answer = await post(client, "Push Hook", PUSH)

    assert await stored_kind(client, answer) == "push"


async def test_a_push_to_another_branch_is_ignored(aiohttp_client: Any, settings: Settings) -> None:
    client = await client_for(aiohttp_client, settings, rules_project="mike/diaspora")
    feature = {**PUSH, "ref": "refs/heads/feature"}

    assert await post(client, "Push Hook", feature) == {"ignored": "Push Hook"}


async def test_a_push_to_the_configured_ref_is_stored_and_the_default_branch_ignored(
    aiohttp_client: Any, settings: Settings
) -> None:
    client = await client_for(
        aiohttp_client, settings, rules_project="mike/diaspora", rules_ref="production"
    )

    assert await post(client, "Push Hook", PUSH) == {"ignored": "Push Hook"}
    answer = await post(client, "Push Hook", {**PUSH, "ref": "refs/heads/production"})
    assert await stored_kind(client, answer) == "push"


async def test_a_push_to_another_project_is_ignored(
    aiohttp_client: Any, settings: Settings
) -> None:
    client = await client_for(aiohttp_client, settings, rules_project="demo/rules")

    assert await post(client, "Push Hook", PUSH) == {"ignored": "Push Hook"}


async def test_a_merge_request_into_the_rules_ref_is_stored(
    aiohttp_client: Any, settings: Settings
) -> None:
    client = await client_for(aiohttp_client, settings, rules_project="gitlabhq/gitlab-test")

    answer = await post(client, "Merge Request Hook", MERGE_REQUEST)

    assert await stored_kind(client, answer) == "merge_request"


async def test_a_merge_request_into_another_branch_is_ignored(
    aiohttp_client: Any, settings: Settings
) -> None:
    client = await client_for(aiohttp_client, settings, rules_project="gitlabhq/gitlab-test")
    other = json.loads(json.dumps(MERGE_REQUEST))
    other["object_attributes"]["target_branch"] = "release-1"

    assert await post(client, "Merge Request Hook", other) == {"ignored": "Merge Request Hook"}


@pytest.mark.parametrize(
    ("header", "payload"), [("Push Hook", PUSH), ("Merge Request Hook", MERGE_REQUEST)]
)
async def test_without_a_rules_project_pushes_and_merge_requests_stay_ignored(
    aiohttp_client: Any, settings: Settings, header: str, payload: dict[str, Any]
) -> None:
    client = await client_for(aiohttp_client, settings)

    assert await post(client, header, payload) == {"ignored": header}
    assert await client.app[SERVICE].store.list_deliveries() == []


def test_a_rules_project_without_a_gitlab_token_is_refused_at_start(settings: Settings) -> None:
    configured = settings.model_copy(update={"rules_project": "demo/rules"})

    with pytest.raises(StartupError, match="HOOKS_GITLAB_TOKEN is needed to read its rules"):
        create_app(configured)
