"""Named notify targets, from `HOOKS_NOTIFY_TARGETS`: rule files name them, never hold them.

A target is one URL whose scheme says where it goes:

- `slack+https://hooks.slack.com/services/...` (a Slack incoming webhook)
- `mattermost+https://chat.example.com/hooks/...` (a Mattermost incoming webhook)
- `teams+https://....logic.azure.com/...` (a Microsoft Teams workflow webhook)
- `smtp://`, `smtp+starttls://` or `smtps://user:password@host:port?from=ADDR&to=ADDR,ADDR`

The URLs carry secrets (a webhook's token is its path; a mail server's password), so a
target prints as its name and kind only, and nothing here repeats a URL in an error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import parse_qs, unquote, urlsplit

Kind = Literal["slack", "mattermost", "teams", "smtp"]
CHAT_KINDS: tuple[Kind, ...] = ("slack", "mattermost", "teams")
MAIL_SCHEMES = {"smtp": "plain", "smtp+starttls": "starttls", "smtps": "ssl"}
MAIL_PORTS = {"plain": 25, "starttls": 587, "ssl": 465}
NAME = re.compile(r"^[a-z0-9]+([-_][a-z0-9]+)*$")


class TargetError(ValueError):
    """A target that cannot be used; the message names it, never its URL."""


@dataclass(frozen=True)
class Target:
    """Where one named target sends: a chat webhook URL, or a mail server and addresses."""

    name: str
    kind: Kind
    url: str = field(default="", repr=False)  # the chat webhook (holds its secret)
    host: str = ""
    port: int = 0
    security: str = "plain"
    username: str = field(default="", repr=False)
    password: str = field(default="", repr=False)
    sender: str = ""
    recipients: tuple[str, ...] = ()


def parse_target(name: str, url: str) -> Target:
    """The target a setting describes; refuses what could not work, naming the target."""
    if not NAME.match(name):
        raise TargetError(f"notify target name {name!r}: use lower-case letters, digits, - or _")
    scheme, _, rest = url.strip().partition("://")
    if not rest:
        raise TargetError(f"notify target {name!r}: not a URL (e.g. slack+https://...)")
    if scheme in MAIL_SCHEMES:
        return _mail(name, url.strip(), MAIL_SCHEMES[scheme])
    kind, _, transport = scheme.partition("+")
    if kind not in CHAT_KINDS or transport not in ("https", "http"):
        raise TargetError(
            f"notify target {name!r}: scheme {scheme!r} is not one of slack+https, "
            "mattermost+https, teams+https, smtp, smtp+starttls, smtps"
        )
    return Target(name, kind, url=f"{transport}://{rest}")


def _mail(name: str, url: str, security: str) -> Target:
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    sender = (query.get("from") or [""])[0]
    recipients = tuple(
        a.strip() for value in query.get("to", []) for a in value.split(",") if a.strip()
    )
    if not parts.hostname:
        raise TargetError(f"notify target {name!r}: the mail server's host is missing")
    if not sender or not recipients:
        raise TargetError(f"notify target {name!r}: mail needs ?from=ADDRESS&to=ADDRESS[,...]")
    try:
        port = parts.port or MAIL_PORTS[security]
    except ValueError as exc:
        raise TargetError(f"notify target {name!r}: the port is not a number") from exc
    return Target(
        name,
        "smtp",
        host=parts.hostname,
        port=port,
        security=security,
        username=unquote(parts.username or ""),
        password=unquote(parts.password or ""),
        sender=sender,
        recipients=recipients,
    )


def secrets_of(target: Target) -> list[str]:
    """What of a target must never be logged: a webhook's path (its token), a password."""
    if target.kind == "smtp":
        return [target.password]
    parts = urlsplit(target.url)
    return [target.url, parts.path + (f"?{parts.query}" if parts.query else "")]


def parse_targets(settings: dict[str, str]) -> dict[str, Target]:
    """Every configured target by name."""
    return {name: parse_target(name, url) for name, url in settings.items()}
