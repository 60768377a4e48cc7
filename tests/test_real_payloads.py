"""Real GitLab payloads, end to end: POST /webhook, the worker, the shipped rules, the simulator.

Each payload under tests/fixtures/webhooks (GitLab's docs, the Go client's test data, and
payloads derived from them; see SOURCES.md) is sent with the header GitLab sends it with, to
the service running the shipped rule pack against a simulator seeded with the groups,
projects, milestones and issues the payload names (with the payload's own ids). The pack's
`vars:` point at the payload's project, so that rules can apply to it.
"""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession
from aiohttp.test_utils import TestClient, TestServer
from ruamel.yaml import YAML

from hooks.service.app import create_app
from hooks.service.config import Settings
from hooks.testing.simulator import Simulator, SimulatorThread
from tests.conftest import FIXTURE_EVENTS, FIXTURES, SECRET, WEBHOOK_HEADERS, fixture_bytes
from tests.e2e import RULE_PACK, marked_notes, service_settings, settle, start_service, store_of

BOT = "hooks-bot"
BOT_ID = 9000  # an id no payload's user has: the loop guard must not take them for the bot

Expectation = Callable[[Simulator, "Where"], None]


@dataclass(frozen=True)
class Where:
    """The projects the pack's vars name for one payload."""

    product: str
    marketing: str


@dataclass(frozen=True)
class Case:
    """What a payload needs besides itself, and what a user then sees on GitLab."""

    expect: Expectation | None = None  # None: the bot changes nothing on GitLab
    product: str | None = None  # the product project, when the payload names no project
    group: str | None = None  # the group's path, when the payload names none
    variables: dict[str, Any] = field(default_factory=dict)
    milestones: list[dict[str, Any]] = field(default_factory=list)
    issues: list[dict[str, Any]] = field(default_factory=list)


def release_issue(title: str) -> Expectation:
    def expect(sim: Simulator, where: Where) -> None:
        [issue] = [i for i in sim.issues(where.marketing) if i["title"] == title]
        assert "release" in issue["labels"]
        assert "Release checklist" in issue["description"]

    return expect


def rolled_over(iid: int, sprint: str, into: str) -> Expectation:
    def expect(sim: Simulator, where: Where) -> None:
        item = sim.issue(where.product, iid)
        assert item["milestone"]["title"] == into
        assert "rolled-over::1" in item["labels"]
        [note] = marked_notes(sim, where.product, iid)
        assert f'Rolled over from %"{sprint}" to %"{into}"' in note["body"]

    return expect


def needs_attention(iid: int, label: str) -> Expectation:
    def expect(sim: Simulator, where: Where) -> None:
        assert "health::needs attention" in sim.issue(where.product, iid)["labels"]
        [note] = marked_notes(sim, where.product, iid)
        assert f'labelled ~"{label}"' in note["body"]

    return expect


# The sprint after the docs' milestone v1.0 (2025-06-16 to 2025-06-30), and an item still open
# in v1.0 when it closes.
NEXT_SPRINT = {"title": "v1.1", "start_date": "2025-07-01", "due_date": "2025-07-14"}
OPEN_ITEM = {"iid": 7, "title": "Landing page copy", "milestone": "v1.0", "state": "opened"}

CASES: dict[str, Case] = {
    "issue_open.json": Case(),
    "issue_open_legacy.json": Case(),
    "issue_update_labels.json": Case(
        variables={"blocked_label": "Platform"},  # the label the update adds means "blocked"
        expect=needs_attention(23, "Platform"),
    ),
    "issue_close.json": Case(),
    "confidential_issue_open.json": Case(),
    "work_item_task_open.json": Case(),
    # GitLab 17.x before gitlab-org/gitlab!180959: an issue edited in the work item view
    # arrived as object_kind work_item; it is still an issue.
    "work_item_issue_update_labels.json": Case(
        variables={"blocked_label": "Platform"}, expect=needs_attention(23, "Platform")
    ),
    "release_create.json": Case(expect=release_issue("Release v1.1")),
    "release_update.json": Case(),
    "release_delete.json": Case(),
    "milestone_create.json": Case(expect=release_issue("Release v1.0")),
    "milestone_close.json": Case(
        milestones=[{"project": "gitlabhq/gitlab-test", **NEXT_SPRINT}],
        issues=[{"project": "gitlabhq/gitlab-test", **OPEN_ITEM}],
        expect=rolled_over(7, "v1.0", "v1.1"),
    ),
    "milestone_reopen.json": Case(),
    "milestone_delete.json": Case(),
    "milestone_group_close.json": Case(
        product="gitlabhq/gitlab-test",
        group="gitlabhq",
        milestones=[{"group": "gitlabhq", **NEXT_SPRINT}],
        issues=[{"project": "gitlabhq/gitlab-test", **OPEN_ITEM}],
        expect=rolled_over(7, "v1.0", "v1.1"),
    ),
    "clientgo_issue.json": Case(),
    "clientgo_release.json": Case(),  # tag 1.0.0 is not a release milestone (v*)
    "clientgo_milestone_project.json": Case(expect=release_issue("Release v1.0.0")),
    "clientgo_milestone_group.json": Case(
        product="flightjs/Flight", expect=release_issue("Release v1.0.0")
    ),
    # Comments and reactions: none of them is a command to the bot, so the pack does nothing;
    # those on a merge request are ignored with the reason.
    "clientgo_note_issue.json": Case(),
    "note_issue_update.json": Case(),
    "confidential_note_issue.json": Case(),
    "clientgo_note_merge_request.json": Case(),
    "clientgo_emoji_issue.json": Case(),
    "emoji_issue_revoke.json": Case(),
    "clientgo_emoji_note_issue.json": Case(),
    "clientgo_emoji_merge_request.json": Case(),
}


# -- the GitLab a payload comes from ------------------------------------------------------


def payload(name: str) -> dict[str, Any]:
    return dict(json.loads(fixture_bytes(name)))


def where_of(body: dict[str, Any], case: Case) -> tuple[str, Where]:
    """The payload's group path and the projects the pack's vars name."""
    project = (body.get("project") or {}).get("path_with_namespace") or case.product
    assert project, "a payload without a project needs Case.product"
    group = case.group or (body.get("group") or {}).get("full_path") or project.rpartition("/")[0]
    return group, Where(product=project, marketing=f"{group}/marketing")


def seed_for(body: dict[str, Any], case: Case) -> dict[str, Any]:
    """The simulator's state: what the payload names, with its ids, and the case's extras."""
    group, where = where_of(body, case)
    attrs = body.get("object_attributes") or {}
    project = body.get("project") or {}
    group_id = (body.get("group") or {}).get("group_id") or attrs.get("group_id")
    users = [{"username": BOT, "token": "sim-token", "id": BOT_ID}]
    user = body.get("user") or {}
    if user.get("username"):
        users.append({"username": user["username"], "id": user.get("id")})
    milestones = []
    issues = []
    if body.get("object_kind") == "milestone":
        owner = {"group": group} if attrs.get("group_id") else {"project": where.product}
        milestones.append(
            {
                **owner,
                **{k: attrs[k] for k in ("id", "iid", "title", "state", "start_date", "due_date")},
            }
        )
    elif attrs.get("iid"):  # an issue or work item
        labels = body.get("labels") or attrs.get("labels") or []
        issues.append(
            {
                "project": where.product,
                "id": attrs.get("id"),
                "iid": attrs["iid"],
                "title": attrs["title"],
                "labels": [label["title"] for label in labels],
                "state": attrs.get("state", "opened"),
                "confidential": bool(attrs.get("confidential")),
                "author": users[-1]["username"],
            }
        )
    releases = []
    if body.get("object_kind") == "release" and body.get("action") != "delete":
        releases.append({"project": where.product, "tag": body["tag"], "name": body["name"]})
    return {
        "users": users,
        "groups": [{"path": group, "id": group_id}],
        "projects": [{"path": where.product, "id": project.get("id")}, {"path": where.marketing}],
        "milestones": milestones + case.milestones,
        "issues": issues + case.issues,
        "releases": releases,
    }


def rule_pack(tmp_path: Path, where: Where, case: Case) -> Path:
    """A copy of the shipped rules whose vars point at the payload's projects."""
    rules = tmp_path / "rules"
    shutil.copytree(RULE_PACK, rules)
    yaml = YAML()
    team = rules / "00-team.yaml"
    document = yaml.load(team.read_text())
    document["vars"].update(
        product_project=where.product,
        product_projects=where.product,
        marketing_project=where.marketing,
        **case.variables,
    )
    with team.open("w") as out:
        yaml.dump(document, out)
    return rules


@pytest.fixture
def simulator(request: pytest.FixtureRequest) -> Iterator[Simulator]:
    name = request.node.callspec.params["name"]
    sim = Simulator(seed_for(payload(name), CASES[name]))
    with SimulatorThread(sim):
        yield sim


@pytest.fixture
async def service(
    request: pytest.FixtureRequest, simulator: Simulator, tmp_path: Path
) -> AsyncIterator[TestServer]:
    name = request.node.callspec.params["name"]
    group, where = where_of(payload(name), CASES[name])
    rules = rule_pack(tmp_path, where, CASES[name])
    server = await start_service(service_settings(simulator, tmp_path, rules))
    # The bot's own changes come back as webhooks, as on GitLab; the loop guard answers them.
    simulator.add_hook(str(server.make_url("/webhook")), SECRET, group=group)
    yield server
    await server.close()


def bot_writes(sim: Simulator, event_uuid: str) -> list[str]:
    """What the bot changed on GitLab in answer to one delivery (not, say, a schedule)."""
    return [
        f"{r.method} {r.path}"
        for r in sim.recorded(user=BOT)
        if r.method != "GET" and r.event_uuid == event_uuid
    ]


# -- the tests --------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(FIXTURE_EVENTS))
async def test_a_real_payload_ends_done_with_the_effect_a_user_expects(
    name: str, simulator: Simulator, service: TestServer
) -> None:
    case = CASES[name]
    event_uuid = str(uuid.uuid4())
    headers = {
        "X-Gitlab-Event": FIXTURE_EVENTS[name],
        "X-Gitlab-Token": SECRET,
        "X-Gitlab-Event-UUID": event_uuid,
    }
    async with ClientSession() as http:
        response = await http.post(
            service.make_url("/webhook"), data=fixture_bytes(name), headers=headers
        )
        assert response.status == 202
        delivery_id = (await response.json())["delivery"]
    await settle(simulator, store_of(service))

    delivery = await store_of(service).get_delivery(delivery_id)
    assert delivery is not None
    assert delivery.status == "done", delivery.last_error
    _, where = where_of(payload(name), case)
    if case.expect is None:
        assert bot_writes(simulator, event_uuid) == []
    else:
        case.expect(simulator, where)


IGNORED = sorted(set(WEBHOOK_HEADERS) - set(FIXTURE_EVENTS))


@pytest.mark.parametrize("name", IGNORED)
async def test_a_real_payload_of_a_kind_without_rules_is_acknowledged_as_ignored(
    name: str, aiohttp_client: Any, settings: Settings
) -> None:
    client: TestClient[Any, Any] = await aiohttp_client(create_app(settings))
    header = WEBHOOK_HEADERS[name]
    response = await client.post(
        "/webhook",
        data=fixture_bytes(name),
        headers={"X-Gitlab-Event": header, "X-Gitlab-Token": SECRET},
    )
    assert response.status == 202
    assert await response.json() == {"ignored": header}


def test_every_fixture_file_has_its_header_its_case_and_its_sources() -> None:
    files = sorted(p.name for p in FIXTURES.glob("*.json") if p.name != "index.json")
    sources = (FIXTURES / "SOURCES.md").read_text()
    assert sorted(WEBHOOK_HEADERS) == files
    assert sorted(CASES) == sorted(FIXTURE_EVENTS)
    assert [f for f in files if f"`{f}`" not in sources] == []
    assert {"Push Hook", "Merge Request Hook"} <= {WEBHOOK_HEADERS[f] for f in IGNORED}
    assert {"Note Hook", "Confidential Note Hook", "Emoji Hook"} <= set(FIXTURE_EVENTS.values())
