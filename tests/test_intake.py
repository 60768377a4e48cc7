"""POST /webhook: what GitLab gets back, and what is stored, for every kind of request."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from hooks.intake.auth import sign
from hooks.service.app import create_app
from hooks.service.config import Settings
from hooks.service.context import SERVICE
from hooks.storage.store import Store
from tests.conftest import FIXTURE_EVENTS, SECRET, fixture_bytes

ISSUE = fixture_bytes("issue_open.json")
SIGNING_KEY = b"0123456789abcdef0123456789abcdef"
SIGNING_TOKEN = "whsec_" + base64.b64encode(SIGNING_KEY).decode()


@pytest.fixture
async def client(aiohttp_client: Any, settings: Settings) -> TestClient:
    return await aiohttp_client(create_app(settings))


def gitlab_headers(event: str = "Issue Hook", token: str = SECRET, **extra: str) -> dict[str, str]:
    return {"X-Gitlab-Event": event, "X-Gitlab-Token": token, **extra}


async def stored(client: TestClient) -> list[Any]:
    store: Store = client.app[SERVICE].store
    return await store.list_deliveries(limit=1000)


@pytest.mark.parametrize("name", sorted(FIXTURE_EVENTS))
async def test_every_real_payload_of_a_handled_kind_is_accepted_and_stored(
    client: TestClient, name: str
) -> None:
    response = await client.post(
        "/webhook", data=fixture_bytes(name), headers=gitlab_headers(FIXTURE_EVENTS[name])
    )
    assert response.status == 202
    answer = await response.json()
    assert answer["duplicate"] is False
    [delivery] = await stored(client)
    assert delivery.id == answer["delivery"]
    assert delivery.body == fixture_bytes(name)
    assert delivery.event_header == FIXTURE_EVENTS[name]


async def test_missing_token_is_refused_with_401(client: TestClient) -> None:
    response = await client.post("/webhook", data=ISSUE, headers={"X-Gitlab-Event": "Issue Hook"})
    assert response.status == 401
    assert "X-Gitlab-Token" in (await response.json())["error"]
    assert await stored(client) == []


async def test_wrong_token_is_refused_without_hinting_at_the_secret(client: TestClient) -> None:
    response = await client.post("/webhook", data=ISSUE, headers=gitlab_headers(token="nope"))
    assert response.status == 401
    assert SECRET not in await response.text()


async def test_empty_token_is_refused(client: TestClient) -> None:
    response = await client.post("/webhook", data=ISSUE, headers=gitlab_headers(token=""))
    assert response.status == 401


async def test_every_rotated_secret_is_accepted(aiohttp_client: Any, settings: Settings) -> None:
    rotated = settings.model_copy(update={"webhook_secret": _secret("old-secret-1, new-secret-2")})
    client = await aiohttp_client(create_app(rotated))
    for token in ("old-secret-1", "new-secret-2"):
        body = ISSUE.replace(b'"iid": 23', f'"iid": {len(token)}{token[-1]}'.encode())
        response = await client.post("/webhook", data=body, headers=gitlab_headers(token=token))
        assert response.status == 202, token


async def test_without_a_configured_secret_every_delivery_is_refused(
    aiohttp_client: Any, settings: Settings
) -> None:
    client = await aiohttp_client(create_app(settings.model_copy(update={"webhook_secret": None})))
    response = await client.post("/webhook", data=ISSUE, headers=gitlab_headers(token=""))
    assert response.status == 401


async def test_body_over_the_limit_is_refused_with_413(
    aiohttp_client: Any, settings: Settings
) -> None:
    client = await aiohttp_client(create_app(settings.model_copy(update={"max_body_bytes": 1024})))
    response = await client.post(
        "/webhook", data=b"{" + b" " * 2000 + b"}", headers=gitlab_headers()
    )
    assert response.status == 413
    assert "1024 byte limit" in (await response.json())["error"]


async def test_chunked_body_over_the_limit_is_refused_with_413(
    aiohttp_client: Any, settings: Settings
) -> None:
    client = await aiohttp_client(create_app(settings.model_copy(update={"max_body_bytes": 1024})))

    async def chunks() -> Any:
        for _ in range(10):
            yield b" " * 500

    response = await client.post("/webhook", data=chunks(), headers=gitlab_headers())
    assert response.status == 413


async def test_missing_event_header_is_refused_with_400(client: TestClient) -> None:
    response = await client.post("/webhook", data=ISSUE, headers={"X-Gitlab-Token": SECRET})
    assert response.status == 400
    assert await response.json() == {"error": "missing X-Gitlab-Event header"}


async def test_malformed_json_is_refused_with_400(client: TestClient) -> None:
    response = await client.post("/webhook", data=b'{"object_kind": ', headers=gitlab_headers())
    assert response.status == 400
    assert await response.json() == {"error": "body is not valid JSON"}


async def test_a_json_array_is_refused_with_400(client: TestClient) -> None:
    response = await client.post("/webhook", data=b"[1, 2]", headers=gitlab_headers())
    assert response.status == 400
    assert await response.json() == {"error": "body is a JSON list, expected an object"}


async def test_deeply_nested_json_is_refused_not_crashed(client: TestClient) -> None:
    body = b"[" * 100_000 + b"]" * 100_000
    response = await client.post("/webhook", data=body, headers=gitlab_headers())
    assert response.status == 400


async def test_unhandled_event_kinds_are_acknowledged_and_not_queued(client: TestClient) -> None:
    response = await client.post(
        "/webhook", data=b'{"object_kind": "push"}', headers=gitlab_headers("Push Hook")
    )
    assert response.status == 202
    assert await response.json() == {"ignored": "Push Hook"}
    assert await stored(client) == []
    metrics = await (await client.get("/metrics")).text()
    assert 'hooks_deliveries_total{kind="Push Hook",outcome="ignored"} 1.0' in metrics


async def test_same_idempotency_key_is_a_duplicate_and_not_queued_twice(client: TestClient) -> None:
    headers = gitlab_headers(**{"Idempotency-Key": "a1b2c3"})
    first = await (await client.post("/webhook", data=ISSUE, headers=headers)).json()
    # GitLab's manual re-send keeps the key but gets a new event UUID.
    again = await client.post(
        "/webhook", data=ISSUE, headers={**headers, "X-Gitlab-Event-UUID": "another"}
    )
    assert again.status == 202
    assert await again.json() == {"delivery": first["delivery"], "duplicate": True}
    assert len(await stored(client)) == 1


async def test_without_idempotency_key_an_identical_body_is_a_duplicate(client: TestClient) -> None:
    first = await (await client.post("/webhook", data=ISSUE, headers=gitlab_headers())).json()
    second = await (await client.post("/webhook", data=ISSUE, headers=gitlab_headers())).json()
    assert second == {"delivery": first["delivery"], "duplicate": True}


async def test_without_idempotency_key_a_different_event_kind_is_not_a_duplicate(
    client: TestClient,
) -> None:
    await client.post("/webhook", data=ISSUE, headers=gitlab_headers("Issue Hook"))
    response = await client.post(
        "/webhook", data=ISSUE, headers=gitlab_headers("Confidential Issue Hook")
    )
    assert (await response.json())["duplicate"] is False


async def test_without_idempotency_key_one_work_item_event_under_either_header_is_stored_once(
    client: TestClient,
) -> None:
    # GitLab has sent work item events as "Issue Hook" (object_kind: work_item) and as
    # "Work Item Hook": the same body is the same event, processed as the same kind.
    work_item = fixture_bytes("work_item_task_open.json")

    first = await client.post("/webhook", data=work_item, headers=gitlab_headers("Issue Hook"))
    again = await client.post("/webhook", data=work_item, headers=gitlab_headers("Work Item Hook"))

    assert (first.status, again.status) == (202, 202)
    assert await again.json() == {"delivery": (await first.json())["delivery"], "duplicate": True}
    [delivery] = await stored(client)
    assert delivery.kind == "work_item"


async def test_without_idempotency_key_an_issue_body_sent_as_a_work_item_is_not_a_duplicate(
    client: TestClient,
) -> None:
    # The header makes it a work_item event, which other rules hear: not the issue event.
    await client.post("/webhook", data=ISSUE, headers=gitlab_headers("Issue Hook"))
    response = await client.post("/webhook", data=ISSUE, headers=gitlab_headers("Work Item Hook"))

    assert (await response.json())["duplicate"] is False
    assert sorted(d.kind for d in await stored(client)) == ["issue", "work_item"]


async def test_stored_headers_keep_what_matters_and_never_the_token(client: TestClient) -> None:
    headers = gitlab_headers(
        **{"X-Gitlab-Event-UUID": "ev-1", "X-Gitlab-Instance": "https://gitlab.example.com"}
    )
    await client.post("/webhook", data=ISSUE, headers=headers)
    [delivery] = await stored(client)
    assert delivery.headers["X-Gitlab-Event-UUID"] == "ev-1"
    assert delivery.event_uuid == "ev-1"
    assert delivery.kind == "issue"
    assert delivery.project == "gitlabhq/gitlab-test"
    assert SECRET not in json.dumps(delivery.headers)


async def test_database_unavailable_answers_503_and_never_202(
    aiohttp_client: Any, settings: Settings, tmp_path: Any
) -> None:
    # The worker held: a claim waiting for the connection while the engine is disposed
    # would wait out the pool's timeout (30 s) before failing, which is not what is tested.
    held = settings.model_copy(update={"worker_concurrency": 0})
    client = await aiohttp_client(create_app(held))
    await client.app[SERVICE].store.engine.dispose()
    # Make the database file unreachable: replace its folder's file with a directory.
    db_file = tmp_path / "hooks.db"
    for suffix in ("", "-wal", "-shm"):
        path = tmp_path / f"hooks.db{suffix}"
        if path.exists():
            path.unlink()
    db_file.mkdir()
    response = await client.post("/webhook", data=ISSUE, headers=gitlab_headers())
    assert response.status == 503
    assert "storage unavailable" in (await response.json())["error"]
    ready = await client.get("/readyz")
    assert ready.status == 503
    assert (await ready.json())["checks"]["database"]["ok"] is False


async def test_a_nul_or_a_stray_escape_in_the_project_path_is_stored_not_refused(
    aiohttp_client: Any, settings: Settings, database_url: str
) -> None:
    on_db = settings.model_copy(update={"database_url": database_url})
    client = await aiohttp_client(create_app(on_db))
    answers = []
    for path in ("demo/product\\u0000", "demo/product\\udc00"):
        body = ISSUE.replace(b'"gitlabhq/gitlab-test"', f'"{path}"'.encode())
        answers.append(await client.post("/webhook", data=body, headers=gitlab_headers()))

    assert [a.status for a in answers] == [202, 202]
    assert sorted(d.project for d in await stored(client)) == [
        "demo/product\\udc00",
        "demo/product\\x00",
    ]


async def test_raw_bytes_in_an_idempotency_key_are_stored_and_keys_stay_distinct(
    aiohttp_client: Any, settings: Settings, database_url: str
) -> None:
    on_db = settings.model_copy(update={"database_url": database_url})
    client = await aiohttp_client(create_app(on_db))

    async def post(key: bytes, body: bytes) -> dict[str, Any]:
        # Raw bytes in a header value cannot go through an HTTP client's str headers.
        reader, writer = await asyncio.open_connection(client.host, client.port)
        writer.write(
            b"POST /webhook HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
            b"X-Gitlab-Event: Issue Hook\r\nX-Gitlab-Token: " + SECRET.encode() + b"\r\n"
            b"Idempotency-Key: " + key + b"\r\nX-Gitlab-Event-UUID: u" + key + b"\r\n"
            b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
        )
        status, _, rest = (await reader.read()).partition(b"\r\n")
        writer.close()
        assert b" 202 " in status, status
        answer: dict[str, Any] = json.loads(rest.split(b"\r\n\r\n", 1)[1])
        return answer

    first = await post(b"k\xff", ISSUE)
    again = await post(b"k\xff", ISSUE.replace(b'"iid": 23', b'"iid": 24'))
    other = await post(b"k\xfe", ISSUE)

    assert (first["duplicate"], again["duplicate"], other["duplicate"]) == (False, True, False)
    assert again["delivery"] == first["delivery"] != other["delivery"]


def _secret(value: str) -> Any:
    from pydantic import SecretStr

    return SecretStr(value)


# -- Standard Webhooks signatures -------------------------------------------------


@pytest.fixture
async def signed_client(aiohttp_client: Any, settings: Settings) -> TestClient:
    signed = settings.model_copy(
        update={"webhook_secret": None, "webhook_signing_token": _secret(SIGNING_TOKEN)}
    )
    return await aiohttp_client(create_app(signed))


def signed_headers(body: bytes, *, msg_id: str = "msg_1", at: int | None = None) -> dict[str, str]:
    stamp = str(int(time.time()) if at is None else at)
    return {
        "X-Gitlab-Event": "Issue Hook",
        "webhook-id": msg_id,
        "webhook-timestamp": stamp,
        "webhook-signature": sign(SIGNING_KEY, msg_id, stamp, body),
    }


async def test_valid_signature_is_accepted(signed_client: TestClient) -> None:
    response = await signed_client.post("/webhook", data=ISSUE, headers=signed_headers(ISSUE))
    assert response.status == 202


async def test_signature_over_another_body_is_refused(signed_client: TestClient) -> None:
    headers = signed_headers(b"{}")
    response = await signed_client.post("/webhook", data=ISSUE, headers=headers)
    assert response.status == 401


async def test_signature_older_than_five_minutes_is_refused(signed_client: TestClient) -> None:
    headers = signed_headers(ISSUE, at=int(time.time()) - 301)
    response = await signed_client.post("/webhook", data=ISSUE, headers=headers)
    assert response.status == 401


async def test_replayed_signature_is_refused(signed_client: TestClient) -> None:
    headers = signed_headers(ISSUE, msg_id="msg_replayed")
    assert (await signed_client.post("/webhook", data=ISSUE, headers=headers)).status == 202
    assert (await signed_client.post("/webhook", data=ISSUE, headers=headers)).status == 401


async def test_signing_configured_refuses_an_unsigned_delivery(signed_client: TestClient) -> None:
    response = await signed_client.post("/webhook", data=ISSUE, headers=gitlab_headers())
    assert response.status == 401
