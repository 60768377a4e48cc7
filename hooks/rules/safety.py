"""Untrusted text stays text: no quick actions, no mass mentions in what the bot posts."""

from __future__ import annotations

import re

ZWSP = "\u200b"
# GitLab runs a quick action from any line whose first character is "/".
_COMMAND_LINE = re.compile(r"^(\s*)/", re.MULTILINE)
# Any @handle: a payload must not be able to ping @all, @here or a whole group.
_MENTION = re.compile(r"(?<![\w.+-])@(?=[\w.-])")


def defuse(text: str) -> str:
    """Neutralise quick-action lines and @mentions in a value from a payload or GitLab."""
    text = _COMMAND_LINE.sub(lambda m: f"{m.group(1)}{ZWSP}/", text)
    return _MENTION.sub("@" + ZWSP, text)
