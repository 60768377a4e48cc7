"""`comment`: a note on the subject (or on another issue named by `target`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import Field

from hooks.actions.base import (
    ActionKind,
    Effects,
    PlanError,
    Planned,
    PlannedAction,
    Planning,
    Result,
    SpecModel,
)
from hooks.rules.templates import reads_comment

PREVIEW = 90  # characters of a comment's first line shown


def preview(text: str, limit: int = PREVIEW) -> str:
    """A comment's first line, cut at a word boundary with "…" when longer than `limit`."""
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    if len(first) <= limit:
        return first
    cut = first[: limit - 1]
    if " " in cut and first[limit - 1] != " ":
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:.") + "…"


class CommentSpec(SpecModel):
    body: str = Field(description="Jinja template of the comment.")
    internal: bool = Field(False, description="An internal note, visible to members only.")
    target: str | None = Field(
        None, description="Comment on this issue ('group/project#12') instead of the subject."
    )


@dataclass(frozen=True)
class CommentParams:
    internal: bool

    def to_dict(self) -> dict[str, Any]:
        return {"internal": self.internal}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CommentParams:
        return cls(bool(data.get("internal")))


def parse_target(target: str) -> tuple[str, int]:
    project, _, iid = target.rpartition("#")
    if not project or not iid.isdigit():
        raise PlanError(f"comment target {target!r} must look like 'group/project#12'")
    return project, int(iid)


def leaks(subject_confidential: bool, subject: str, target: tuple[str, int] | None) -> bool:
    """Whether a comment would carry a confidential subject's text to another issue."""
    return target is not None and subject_confidential and f"{target[0]}#{target[1]}" != subject


class Comment(ActionKind[CommentParams]):
    name = "comment"
    params_type = CommentParams

    def step_type(self) -> Any:
        return str | CommentSpec | None

    def templates(self, value: Any) -> list[tuple[list[str | int], str]]:
        if isinstance(value, CommentSpec):
            return [(["body"], value.body)]
        return [([], value)] if isinstance(value, str) else []

    def plan(self, value: str | CommentSpec, ctx: Planning) -> Planned[CommentParams]:
        comment = value if isinstance(value, CommentSpec) else CommentSpec(body=str(value))
        target = parse_target(comment.target) if comment.target else None
        issue = ctx.facts.issue
        if (
            issue is not None
            and leaks(issue.confidential, issue.subject, target)
            and not ctx.allow_confidential_leak
        ):
            raise PlanError(
                f"refused: comment would carry text of confidential {issue.subject} to "
                f"{comment.target}; set allow_confidential_leak: true to allow it"
            )
        # An internal comment's words are quoted only in an internal note (members only).
        internal = comment.internal or (
            ctx.facts.internal_comment and target is None and reads_comment(comment.body)
        )
        return Planned(CommentParams(internal), ctx.render(comment.body), target)

    def perform(
        self, action: PlannedAction, params: CommentParams, fx: Effects, resumed: bool
    ) -> Result:
        note, by_marker = fx.note_once(action, internal=params.internal, resumed=resumed)
        result: dict[str, Any] = {"note_id": note.get("id")}
        if by_marker:
            result["found_by_marker"] = True
        return "done", result

    def describe(
        self, params: CommentParams, subject: str | None, text: str | None, result: dict[str, Any]
    ) -> str:
        return f'{subject}: comment "{preview(text or "")}"'

    def matches(self, want: Any, params: CommentParams, text: str | None) -> bool:
        return text_and_params_match(want, params.to_dict(), text, "contains")

    def shown(self, params: CommentParams, text: str | None) -> str | None:
        return text


def contains(text: str | None, wanted: Any) -> bool:
    """Whether `text` holds `wanted` (a piece or a list of pieces), as examples check."""
    pieces = wanted if isinstance(wanted, list) else [wanted]
    return all(str(p) in (text or "") for p in pieces)


def text_and_params_match(want: Any, stored: dict[str, Any], text: str | None, key: str) -> bool:
    """An example's expectation of a text action: pieces of the text (`want` itself, or its
    `key`), and the stored value of every other key it names."""
    spec = want if isinstance(want, dict) else {key: want}
    return contains(text, spec.get(key, "")) and all(
        stored.get(k) == v for k, v in spec.items() if k != key
    )
