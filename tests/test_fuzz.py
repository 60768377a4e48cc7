"""Hostile input: fuzzed payloads never crash the parser, and POST /webhook never answers 5xx."""

from __future__ import annotations

import json
from typing import Any

from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hooks.events import EventParseError, parse_event
from hooks.service.app import create_app
from hooks.service.config import Settings
from hooks.service.context import SERVICE
from tests.conftest import FIXTURE_EVENTS, SECRET, fixture_bytes

FIXTURES = {name: json.loads(fixture_bytes(name)) for name in FIXTURE_EVENTS}
HEADERS = sorted(set(FIXTURE_EVENTS.values()) | {"Confidential Issue Hook", "Push Hook", ""})

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True),
    st.text(max_size=20),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, (*prefix, index))
    return found


def _replace(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {**value, head: _replace(value[head], rest, new)}
    copy = list(value)
    copy[head] = _replace(copy[head], rest, new)
    return copy


@st.composite
def mutated_fixtures(draw: st.DrawFn) -> tuple[str, Any]:
    """A real payload fixture with a few fields replaced by nulls, wrong types or garbage."""
    name = draw(st.sampled_from(sorted(FIXTURES)))
    payload: Any = FIXTURES[name]
    paths = _paths(payload)
    for _ in range(draw(st.integers(min_value=1, max_value=6))):
        path = draw(st.sampled_from(paths))
        payload = _replace(payload, path, draw(json_values))
        paths = _paths(payload) or paths
    return FIXTURE_EVENTS[name], payload


@given(mutated_fixtures())
@settings(max_examples=400, deadline=None)
def test_the_parser_reads_or_refuses_mutated_payloads_and_never_raises_otherwise(
    case: tuple[str, Any],
) -> None:
    header, payload = case
    try:
        event = parse_event(header, json.dumps(payload))
    except EventParseError as exc:
        assert str(exc)  # a refusal always says why
    else:
        assert event.subject  # a parsed event can always name its subject


@given(st.binary(max_size=300), st.sampled_from(HEADERS))
@settings(max_examples=200, deadline=None)
def test_arbitrary_bytes_are_refused_with_a_reason(body: bytes, header: str) -> None:
    try:
        parse_event(header, body)
    except EventParseError as exc:
        assert str(exc)


def test_deeply_nested_json_is_refused_not_a_crash() -> None:
    body = "[" * 100_000 + "]" * 100_000
    try:
        parse_event("Issue Hook", body)
    except EventParseError as exc:
        assert "JSON" in str(exc) or "object" in str(exc)


request_bodies = st.one_of(
    st.binary(max_size=200),
    st.builds(lambda p: json.dumps(p).encode(), json_values),
    st.builds(lambda case: json.dumps(case[1]).encode(), mutated_fixtures()),
    st.just(b"\xff\xfe{not utf-8"),
)
header_values = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=40)


@given(
    body=request_bodies,
    event=st.one_of(st.sampled_from(HEADERS), header_values),
    token=st.one_of(st.just(SECRET), st.just(""), header_values),
    idem=st.one_of(st.none(), header_values),
)
@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_the_webhook_never_answers_5xx_to_fuzzed_requests(
    settings: Settings, body: bytes, event: str, token: str, idem: str | None
) -> None:
    import asyncio

    async def run() -> int:
        client = TestClient(TestServer(create_app(settings)))
        await client.start_server()
        try:
            headers = {"X-Gitlab-Event": event, "X-Gitlab-Token": token}
            if idem is not None:
                headers["Idempotency-Key"] = idem
            response = await client.post("/webhook", data=body, headers=headers)
            answer = await response.json()
            assert isinstance(answer, dict) and answer
            return response.status
        finally:
            await client.close()

    status = asyncio.run(run())
    assert status in (202, 400, 401, 413)


async def deliver_and_process(client: Any, body: dict[str, Any]) -> tuple[Any, Any]:
    """POST an issue event with the right token, let the worker finish, return answer and row."""
    response = await client.post(
        "/webhook",
        data=json.dumps(body),
        headers={"X-Gitlab-Event": "Issue Hook", "X-Gitlab-Token": SECRET},
    )
    service = client.app[SERVICE]
    await service.worker.run_until_idle()
    return response, await service.store.get_delivery((await response.json())["delivery"])


async def test_a_stored_payload_that_cannot_be_parsed_ends_failed_with_the_reason(
    aiohttp_client: Any, settings: Settings
) -> None:
    client = await aiohttp_client(create_app(settings))
    body = json.loads(fixture_bytes("issue_open.json"))
    body["object_attributes"]["iid"] = "twenty-three"  # JSON, an issue event, but unreadable

    response, delivery = await deliver_and_process(client, body)
    assert response.status == 202  # stored: nothing a sender could fix by sending again
    assert delivery is not None and (delivery.status, delivery.attempts) == ("failed", 1)
    assert delivery.last_error is not None
    assert delivery.last_error.startswith("unparseable payload: ") and "iid" in delivery.last_error
    store = client.app[SERVICE].store
    [trail] = [r for r in await store.audit_for(delivery_id=delivery.id) if r["kind"] == "error"]
    assert trail["outcome"] == "unparseable" and "iid" in trail["detail"]["error"]


async def test_a_nul_in_the_project_path_ends_failed_after_one_attempt_on_either_engine(
    aiohttp_client: Any, settings: Settings, database_url: str
) -> None:
    on_db = settings.model_copy(update={"database_url": database_url})
    client = await aiohttp_client(create_app(on_db))
    body = json.loads(fixture_bytes("issue_open.json"))
    body["project"]["path_with_namespace"] = "gitlabhq/gitlab-test\u0000"

    response, delivery = await deliver_and_process(client, body)
    assert response.status == 202
    assert delivery is not None and (delivery.status, delivery.attempts) == ("failed", 1)
    assert delivery.last_error == (
        "unparseable payload: issue payload: project.path_with_namespace: "
        "Value error, holds a NUL character, which no GitLab path or tag has"
    )
