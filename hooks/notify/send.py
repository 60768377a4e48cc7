"""Sending one message to a named target: each chat's documented message shape, and mail.

Every failure is a `NotifyError`: the executor retries it like a GitLab call that failed in
transit and finally records its message, which names the target and the answer, never the
URL or password the target holds.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Mapping
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

import requests

from hooks.notify.targets import Target

MAX_TEXT = 30_000  # below Slack's 40,000 characters and Teams' 28 KB card after markup
ANSWER_SHOWN = 200  # characters of an error answer kept in the trace


class NotifyError(requests.RequestException):
    """A message that did not get through; the text is safe to log and record."""


def chat_body(kind: str, text: str, subject: str | None) -> dict[str, Any]:
    """The JSON a chat's incoming webhook takes, as its documentation gives it."""
    if kind == "teams":  # a workflow webhook ("When a Teams webhook request is received")
        blocks: list[dict[str, Any]] = []
        if subject:
            blocks.append({"type": "TextBlock", "text": subject, "weight": "Bolder", "wrap": True})
        blocks.append({"type": "TextBlock", "text": text, "wrap": True})
        card = {
            "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
            "type": "AdaptiveCard",
            "version": "1.4",
            "body": blocks,
        }
        return {
            "type": "message",
            "attachments": [
                {
                    "contentType": "application/vnd.microsoft.card.adaptive",
                    "contentUrl": None,
                    "content": card,
                }
            ],
        }
    if subject:  # Slack's mrkdwn and Mattermost's Markdown both read a bold first line
        text = f"*{subject}*\n{text}" if kind == "slack" else f"**{subject}**\n{text}"
    return {"text": text}


def mail_message(target: Target, text: str, subject: str | None, key: str) -> EmailMessage:
    """The mail: its Message-ID comes from the action key, so a resend is recognisable."""
    message = EmailMessage()
    message["From"] = target.sender
    message["To"] = ", ".join(target.recipients)
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    message["Subject"] = subject or first[:120] or "(no subject)"
    domain = target.sender.rpartition("@")[2] or "hooks.invalid"
    message["Message-ID"] = make_msgid(idstring=key[:32], domain=domain)
    message.set_content(text)
    return message


class Notifier:
    """Sends to the configured targets (synchronously: the executor calls it in a thread)."""

    def __init__(self, targets: Mapping[str, Target], *, timeout_s: float = 10.0) -> None:
        self.targets = dict(targets)
        self.timeout_s = timeout_s

    def send(self, to: str, text: str, subject: str | None, key: str) -> dict[str, Any]:
        """Send once; the result recorded in the trace (target, kind, answer status)."""
        target = self.targets.get(to)
        if target is None:
            known = ", ".join(sorted(self.targets)) or "none"
            raise ValueError(
                f"no notify target {to!r} is configured (HOOKS_NOTIFY_TARGETS has: {known})"
            )
        if len(text) > MAX_TEXT:
            text = text[: MAX_TEXT - 1] + "…"
        if target.kind == "smtp":
            return self._mail(target, text, subject, key)
        return self._chat(target, text, subject)

    def _chat(self, target: Target, text: str, subject: str | None) -> dict[str, Any]:
        where = f"{target.name} ({target.kind})"
        try:
            answer = requests.post(
                target.url, json=chat_body(target.kind, text, subject), timeout=self.timeout_s
            )
        except requests.Timeout:
            raise NotifyError(f"{where}: no answer within {self.timeout_s:g} s") from None
        except requests.RequestException as exc:  # its text holds the URL: say only what
            raise NotifyError(f"{where}: could not connect ({type(exc).__name__})") from None
        if not 200 <= answer.status_code < 300:
            shown = " ".join(answer.text.split())[:ANSWER_SHOWN]
            raise NotifyError(f"{where} answered {answer.status_code}: {shown or '(empty)'}")
        return {"to": target.name, "via": target.kind, "status": answer.status_code}

    def _mail(self, target: Target, text: str, subject: str | None, key: str) -> dict[str, Any]:
        where = f"{target.name} (smtp)"
        message = mail_message(target, text, subject, key)
        try:
            if target.security == "ssl":
                server: smtplib.SMTP = smtplib.SMTP_SSL(
                    target.host,
                    target.port,
                    timeout=self.timeout_s,
                    context=ssl.create_default_context(),
                )
            else:
                server = smtplib.SMTP(target.host, target.port, timeout=self.timeout_s)
            with server:
                if target.security == "starttls":
                    server.starttls(context=ssl.create_default_context())
                if target.username:
                    server.login(target.username, target.password)
                refused = server.send_message(message)
        except smtplib.SMTPResponseException as exc:
            error = exc.smtp_error
            shown = (error.decode(errors="replace") if isinstance(error, bytes) else error)[
                :ANSWER_SHOWN
            ]
            raise NotifyError(f"{where} answered {exc.smtp_code}: {shown}") from None
        except (smtplib.SMTPException, OSError) as exc:
            raise NotifyError(f"{where}: {type(exc).__name__}: {exc}"[:300]) from None
        result: dict[str, Any] = {
            "to": target.name,
            "via": "smtp",
            "message_id": message["Message-ID"],
        }
        if refused:
            result["refused"] = sorted(refused)
        return result
