"""What rules read from comments: patterns run in linear time, and commands addressed to the bot.

Comment text is anyone's input and a pattern is the rule author's, so patterns are RE2
(google-re2): no backtracking, so no pattern can take longer than a pass over the text, and a
1 MB comment is searched in milliseconds. RE2 refuses what it cannot run in linear time
(backreferences, lookaround); `hooks check` names such a pattern with its file and line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import re2

# The longest command line read; a longer one is refused with its length, not searched.
MAX_COMMAND = 500


class PatternError(ValueError):
    """A pattern RE2 cannot run."""


@lru_cache(maxsize=256)
def compiled(pattern: str, ignore_case: bool = False) -> Any:
    """The RE2 program of a pattern (PatternError when RE2 refuses it)."""
    options = re2.Options()
    options.log_errors = False  # the refusal is raised and reported, not printed
    options.case_sensitive = not ignore_case
    try:
        return re2.compile(pattern, options=options)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else exc
        if isinstance(reason, bytes):
            reason = reason.decode(errors="replace")
        raise PatternError(
            f"{pattern!r} is not a pattern RE2 can run ({reason}); RE2 has no backreferences"
            " or lookaround, so no pattern can take longer than one pass over the text"
        ) from None


def check_pattern(pattern: str) -> str:
    """A pydantic validator: the pattern, or ValueError naming why RE2 refuses it."""
    compiled(pattern)
    return pattern


def search(pattern: str, text: str, *, ignore_case: bool = False) -> bool:
    return compiled(pattern, ignore_case).search(text) is not None


@dataclass(frozen=True)
class Command:
    """The words after `@bot` at the start of a comment's line.

    `name` is the first word, `args` the rest, `reason` what follows the first colon
    (`@bot health at risk: waiting on legal` -> reason "waiting on legal").
    """

    text: str
    name: str
    args: str
    reason: str
    length: int  # of the whole command line, which may be over MAX_COMMAND

    @property
    def too_long(self) -> bool:
        return self.length > MAX_COMMAND

    def as_scope(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "name": self.name,
            "args": self.args,
            "reason": self.reason,
            "too_long": self.too_long,
            "length": self.length,
        }


def parse_command(text: str, bot: str | None) -> Command | None:
    """The first line of `text` that starts with `@bot`, as a command; None when none does.

    A mention inside a sentence is not a command ("thanks @bot" asks for nothing); a line
    quoted with `>` is someone else's words.
    """
    if not bot:
        return None
    mention = re.compile(rf"^[ \t]*@{re.escape(bot)}(?![\w.-])[ \t,:]*(.*)$", re.IGNORECASE | re.M)
    found = mention.search(text)
    if found is None:
        return None
    line = found.group(1).rstrip()
    head = line[:MAX_COMMAND]
    words = head.split(None, 1)
    name = words[0].lower().rstrip(":,.!") if words else ""
    _, colon, after = head.partition(":")
    return Command(
        text=head,
        name=name[:40],
        args=words[1] if len(words) > 1 else "",
        reason=after.strip() if colon else "",
        length=len(line),
    )
