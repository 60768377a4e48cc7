"""`notify`: the team's chat and mail get a rule's message once, in each service's shape."""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email import message_from_bytes
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword
from pydantic import SecretStr, ValidationError
from sqlalchemy import select

from hooks.notify.send import chat_body
from hooks.notify.targets import TargetError, parse_target
from hooks.rules.loader import RuleErrors, load_rules
from hooks.service.config import Settings, settings_problems
from hooks.service.context import SERVICE
from hooks.storage.records import Delivery
from hooks.storage.tables import audit
from hooks.testing.chat_receiver import MATTERMOST, SLACK, TEAMS, ChatReceiver
from hooks.testing.sim_faults import Fault
from hooks.testing.simulator import Simulator
from hooks.testing.waiting import eventually
from tests.conftest import SECRET
from tests.e2e import (
    RULE_PACK,
    as_user,
    marked_notes,
    service_settings,
    settle,
    start_service,
    store_of,
)

ANNOUNCE = """
rules:
- name: announce
  on: {issue: [open], confidential_issue: [open]}
  do:
    - notify:
        to: team-chat
        subject: "New: {{ issue.title }}"
        text: "{{ issue.title }} was opened: {{ issue.web_url }}"
"""


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[ChatReceiver, TestServer]]:
    chat = ChatReceiver()
    server = TestServer(chat.app(), host="127.0.0.1")
    await server.start_server()
    yield chat, server
    await server.close()


def chat_url(server: TestServer, kind: str) -> str:
    path = {"slack": SLACK, "mattermost": MATTERMOST, "teams": TEAMS}[kind]
    return f"{kind}+http://127.0.0.1:{server.port}{path}"


async def serve(
    sim: Simulator, tmp_path: Path, rules: str, targets: dict[str, str], **overrides: Any
) -> TestServer:
    settings = service_settings(
        sim,
        tmp_path,
        rules,
        notify_targets={name: SecretStr(url) for name, url in targets.items()},
        **{"notify_timeout_s": 1.0, **overrides},
    )
    server = await start_service(settings)
    sim.add_hook(str(server.make_url("/webhook")), SECRET, group="demo")
    return server


def text_of(value: Any) -> str:
    return json.dumps(value, default=str)


def delivery_iid(sim: Simulator) -> int:
    return max(i["iid"] for i in sim.issues("demo/product"))


def open_issue(sim: Simulator, title: str, confidential: bool = False) -> None:
    project = as_user(sim, "alice").projects.get("demo/product", lazy=True)
    project.issues.create({"title": title, "confidential": confidential})


@dataclass
class Opened:
    """What the service recorded for the one delivery an opened issue caused."""

    delivery: Delivery
    trail: list[dict[str, Any]]

    @property
    def notify(self) -> list[dict[str, Any]]:
        return [r for r in self.trail if r["detail"].get("action") == "notify"]


async def open_issue_against(
    sim: Simulator,
    tmp_path: Path,
    targets: dict[str, str],
    *,
    rules: str = ANNOUNCE,
    confidential: bool = False,
    while_open: Callable[[TestServer], Awaitable[None]] | None = None,
    **overrides: Any,
) -> Opened:
    """Serve `rules` with these targets, open an issue, wait until all is done."""
    server = await serve(sim, tmp_path, rules, targets, **overrides)
    try:
        open_issue(sim, "Launch webinar", confidential)
        if while_open is not None:
            await while_open(server)
        await settle(sim, store_of(server), within_s=60)
        [delivery] = await store_of(server).list_deliveries(limit=5)
        trail = await store_of(server).audit_for(delivery_id=delivery.id)
    finally:
        await server.close()
    return Opened(delivery, trail)


# -- targets ---------------------------------------------------------------------------


def test_a_targets_scheme_says_which_service_it_posts_to() -> None:
    assert parse_target("a", "slack+https://hooks.slack.com/services/T/B/X").kind == "slack"
    assert parse_target("b", "mattermost+https://chat.example.com/hooks/x").url == (
        "https://chat.example.com/hooks/x"
    )
    assert parse_target("c", "teams+https://x.logic.azure.com/workflows/1").kind == "teams"
    mail = parse_target(
        "d", "smtp+starttls://bot:p%40ss@mail.example.com?from=b@x.org&to=a@x.org,c@x.org"
    )
    assert (mail.host, mail.port, mail.security) == ("mail.example.com", 587, "starttls")
    assert (mail.password, mail.recipients) == ("p@ss", ("a@x.org", "c@x.org"))


def test_a_target_that_cannot_work_is_refused_at_start_without_repeating_its_url() -> None:
    with pytest.raises(ValidationError) as caught:
        Settings(_env_file=None, notify_targets={"team-chat": "discord+https://x/SECRETPATH"})
    [problem] = settings_problems(caught.value)
    assert problem.startswith("HOOKS_NOTIFY_TARGETS: notify target 'team-chat': scheme")
    assert "SECRETPATH" not in problem


def test_mail_without_recipients_is_refused() -> None:
    with pytest.raises(TargetError, match="mail needs"):
        parse_target("mail", "smtp://mail.example.com?from=bot@example.com")


def test_a_rule_naming_a_url_instead_of_a_target_is_refused_with_its_line(tmp_path: Path) -> None:
    (tmp_path / "chat.yaml").write_text(
        ANNOUNCE.replace("to: team-chat", "to: https://hooks.slack.com/services/T/B/X")
    )
    with pytest.raises(RuleErrors) as caught:
        load_rules(tmp_path)
    text = str(caught.value)
    assert "chat.yaml:7" in text and "HOOKS_NOTIFY_TARGETS" in text


def test_each_chat_gets_the_shape_its_documentation_gives() -> None:
    assert chat_body("slack", "hi", "Title") == {"text": "*Title*\nhi"}
    assert chat_body("mattermost", "hi", None) == {"text": "hi"}
    card = chat_body("teams", "hi", "Title")["attachments"][0]
    assert card["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert [b["text"] for b in card["content"]["body"]] == ["Title", "hi"]


# -- end to end --------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["slack", "mattermost", "teams"])
async def test_an_opened_issue_is_announced_in_the_team_chat_once(
    gitlab_sim: Simulator, tmp_path: Path, receiver: tuple[ChatReceiver, TestServer], kind: str
) -> None:
    chat, chat_server = receiver

    opened = await open_issue_against(
        gitlab_sim, tmp_path, {"team-chat": chat_url(chat_server, kind)}
    )

    assert chat.refused == []
    [message] = chat.messages(kind)
    assert "Launch webinar was opened: http" in text_of(message)
    [outcome] = opened.notify
    assert outcome["outcome"] == "done" and outcome["detail"]["result"]["via"] == kind


async def test_a_5xx_from_the_chat_is_retried_and_the_message_arrives_once(
    gitlab_sim: Simulator, tmp_path: Path, receiver: tuple[ChatReceiver, TestServer]
) -> None:
    chat, chat_server = receiver
    chat.fail_next("slack", 500, "rollup_error", times=2)

    opened = await open_issue_against(
        gitlab_sim, tmp_path, {"team-chat": chat_url(chat_server, "slack")}
    )

    assert len(chat.messages("slack")) == 1
    assert opened.delivery.status == "done" and opened.delivery.attempts == 3


async def test_a_chat_that_keeps_refusing_is_recorded_with_its_answer_and_no_secret(
    gitlab_sim: Simulator, tmp_path: Path, receiver: tuple[ChatReceiver, TestServer]
) -> None:
    chat, chat_server = receiver
    chat.fail_next("slack", 404, "no_service", times=100)

    opened = await open_issue_against(
        gitlab_sim, tmp_path, {"team-chat": chat_url(chat_server, "slack")}, max_attempts=3
    )

    error = opened.delivery.last_error or ""
    assert opened.delivery.status == "failed" and opened.delivery.attempts == 3
    assert "team-chat (slack) answered 404: no_service" in error
    recorded = text_of(opened.trail) + error
    assert "XXXXSECRETXXXX" not in recorded and "/services/" not in recorded


async def test_a_chat_that_hangs_is_timed_out_and_tried_again(
    gitlab_sim: Simulator, tmp_path: Path, receiver: tuple[ChatReceiver, TestServer]
) -> None:
    chat, chat_server = receiver
    chat.hang_next("teams")

    opened = await open_issue_against(
        gitlab_sim, tmp_path, {"team-chat": chat_url(chat_server, "teams")}
    )

    assert len(chat.messages("teams")) == 1
    assert opened.delivery.status == "done" and opened.delivery.attempts == 2


async def test_a_message_sent_is_not_sent_again_when_a_later_step_is_retried(
    gitlab_sim: Simulator, tmp_path: Path, receiver: tuple[ChatReceiver, TestServer]
) -> None:
    chat, chat_server = receiver
    notes_fail = gitlab_sim.faults.add(
        Fault(
            user="hooks-bot",
            method="POST",
            path="/api/v4/projects/*/issues/*/notes",
            error_rate=1.0,
            statuses=(502,),
        )
    )

    async def until_the_comment_failed_after_the_message(server: TestServer) -> None:
        async def failed_after_the_message() -> bool:
            deliveries = await store_of(server).list_deliveries(limit=5)
            return bool(chat.messages("mattermost")) and any(d.last_error for d in deliveries)

        await eventually(failed_after_the_message, within_s=30)
        gitlab_sim.faults.remove(notes_fail)

    opened = await open_issue_against(
        gitlab_sim,
        tmp_path,
        {"team-chat": chat_url(chat_server, "mattermost")},
        rules=ANNOUNCE + '    - comment: "Announced in the team chat."\n',
        while_open=until_the_comment_failed_after_the_message,
    )

    assert opened.delivery.status == "done" and opened.delivery.attempts > 1
    assert len(chat.messages("mattermost")) == 1
    assert marked_notes(gitlab_sim, "demo/product", delivery_iid(gitlab_sim))


async def test_a_confidential_issue_is_not_told_to_the_chat(
    gitlab_sim: Simulator, tmp_path: Path, receiver: tuple[ChatReceiver, TestServer]
) -> None:
    chat, chat_server = receiver

    opened = await open_issue_against(
        gitlab_sim, tmp_path, {"team-chat": chat_url(chat_server, "slack")}, confidential=True
    )

    assert chat.received == []
    assert "refused: notify would carry text of confidential" in text_of(opened.trail)


async def test_a_target_the_service_does_not_know_fails_naming_the_known_ones(
    gitlab_sim: Simulator, tmp_path: Path, receiver: tuple[ChatReceiver, TestServer]
) -> None:
    _chat, chat_server = receiver

    opened = await open_issue_against(
        gitlab_sim, tmp_path, {"other-chat": chat_url(chat_server, "slack")}
    )

    [outcome] = opened.notify
    assert outcome["outcome"] == "failed"
    assert "no notify target 'team-chat' is configured" in text_of(outcome)
    assert "other-chat" in text_of(outcome)


# -- mail ------------------------------------------------------------------------------


class Inbox:
    def __init__(self) -> None:
        self.mails: list[Envelope] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Envelope) -> str:
        self.mails.append(envelope)
        return "250 Message accepted for delivery"


def _only_bot(server: Any, session: Any, envelope: Any, mechanism: str, auth: Any) -> AuthResult:
    ok = isinstance(auth, LoginPassword) and (auth.login, auth.password) == (b"bot", b"s3cret!")
    return AuthResult(success=ok, handled=False)  # not handled: aiosmtpd answers 535 itself


@pytest.fixture
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    with socket.socket() as probe:  # aiosmtpd checks its port by connecting: name a free one
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(
        inbox, hostname="127.0.0.1", port=port, authenticator=_only_bot, auth_require_tls=False
    )
    controller.start()
    yield inbox, port
    controller.stop()


async def test_mail_reaches_the_team_with_its_subject_after_signing_in(
    gitlab_sim: Simulator, tmp_path: Path, smtp_server: tuple[Inbox, int]
) -> None:
    inbox, port = smtp_server
    url = f"smtp://bot:s3cret%21@127.0.0.1:{port}?from=bot@example.com&to=team@example.com"

    opened = await open_issue_against(gitlab_sim, tmp_path, {"team-chat": url})

    await eventually(lambda: len(inbox.mails) == 1)
    mail = message_from_bytes(inbox.mails[0].original_content or b"")
    assert mail["Subject"] == "New: Launch webinar" and mail["To"] == "team@example.com"
    assert "Launch webinar was opened" in mail.get_payload()
    [outcome] = opened.notify
    assert outcome["outcome"] == "done" and "s3cret" not in text_of(outcome)


async def test_mail_refused_by_the_server_is_recorded_with_its_answer(
    gitlab_sim: Simulator, tmp_path: Path, smtp_server: tuple[Inbox, int]
) -> None:
    inbox, port = smtp_server
    url = f"smtp://bot:wrong@127.0.0.1:{port}?from=bot@example.com&to=team@example.com"

    opened = await open_issue_against(
        gitlab_sim, tmp_path, {"team-chat": url}, max_attempts=2, notify_timeout_s=5.0
    )

    error = opened.delivery.last_error or ""
    assert inbox.mails == []
    assert opened.delivery.status == "failed"
    assert "team-chat (smtp) answered 535" in error and "wrong" not in error


# -- the shipped retro reminder ----------------------------------------------------------


async def test_the_retro_reminder_is_posted_to_the_team_chat_once_when_one_is_configured(
    gitlab_sim: Simulator, tmp_path: Path, receiver: tuple[ChatReceiver, TestServer]
) -> None:
    chat, chat_server = receiver
    server = await serve(
        gitlab_sim, tmp_path, RULE_PACK, {"team-chat": chat_url(chat_server, "slack")}
    )
    try:
        scheduler = server.app[SERVICE].runtime.scheduler  # type: ignore[union-attr]
        wednesday = datetime(2026, 12, 9, 9, 0, tzinfo=UTC)
        assert await scheduler.fire("retro-reminder", wednesday) == "done"
        assert await scheduler.fire("retro-reminder", wednesday) is None
    finally:
        await server.close()

    [message] = chat.messages("slack")
    assert message["text"].startswith("*Sprint retrospective today*\nPart of today's team meeting")


async def test_the_retro_reminder_without_a_team_chat_opens_its_issue_and_says_why_no_post(
    gitlab_sim: Simulator, tmp_path: Path
) -> None:
    server = await serve(gitlab_sim, tmp_path, RULE_PACK, {})
    try:
        scheduler = server.app[SERVICE].runtime.scheduler  # type: ignore[union-attr]
        wednesday = datetime(2026, 12, 9, 9, 0, tzinfo=UTC)
        assert await scheduler.fire("retro-reminder", wednesday) == "done"
        async with store_of(server).engine.connect() as conn:
            query = select(audit).where(
                (audit.c.rule == "retro-reminder") & (audit.c.kind == "action")
            )
            trail = (await conn.execute(query)).all()
    finally:
        await server.close()

    [posted] = [r for r in trail if json.loads(r.detail)["action"] == "notify"]
    assert posted.outcome == "satisfied"
    assert json.loads(posted.detail)["result"] == {
        "skipped": "no notify target 'team-chat' is configured"
    }


async def test_the_receiver_refuses_a_teams_message_that_is_not_an_adaptive_card(
    receiver: tuple[ChatReceiver, TestServer],
) -> None:
    chat, chat_server = receiver
    legacy = {"@type": "MessageCard", "text": "hi"}  # the retired Office 365 connector's shape
    url = chat_url(chat_server, "teams").split("+", 1)[1]
    async with aiohttp.ClientSession() as session, session.post(url, json=legacy) as answer:
        assert answer.status == 400
    assert chat.received == [] and chat.refused == [("teams", "type must be 'message'")]


def test_every_notify_secret_is_scrubbed_from_the_logs() -> None:
    settings = Settings(
        _env_file=None,
        notify_targets={
            "chat": "slack+https://hooks.slack.com/services/T1/B1/tokensecret1",
            "mail": "smtp://bot:pa55word-secret@mail.example.com?from=a@x.org&to=b@x.org",
        },
    )

    found = settings.secret_values()

    assert "/services/T1/B1/tokensecret1" in found and "pa55word-secret" in found
