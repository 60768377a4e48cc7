"""The rule language's keys for comments and reactions (`comment`, `command`, `emoji`
conditions); `hooks.rules.model` holds them in `Condition`."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field

from hooks.actions.base import SpecModel
from hooks.rules.comments import check_pattern

# An RE2 pattern: runs in time linear in the text, whatever the pattern (hooks.rules.comments).
Pattern = Annotated[str, AfterValidator(check_pattern)]


class TextTest(SpecModel):
    """A test of a comment's text."""

    matches: Pattern = Field(
        description="RE2 pattern searched in the text ('(?i)' ignores case); RE2 runs in time"
        " linear in the text, so no pattern can hang on a long comment."
    )


class CommandTest(SpecModel):
    """A command addressed to the bot: a comment line starting with `@<bot username>`."""

    matches: Pattern | None = Field(
        None,
        description="RE2 pattern searched in the words after the mention, ignoring case"
        " ('^health (on track|at risk)'); absent: any command.",
    )


class EmojiTest(SpecModel):
    """Which emoji the event awarded or revoked (GitLab's names: thumbsup, rocket, ...)."""

    name: str | None = Field(None, description="This emoji.")
    any: list[str] = Field(default_factory=list, description="One of these emoji.")
