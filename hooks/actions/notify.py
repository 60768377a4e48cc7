"""`notify`: a message to a named chat channel or mail target (`HOOKS_NOTIFY_TARGETS`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import Field, field_validator

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
from hooks.actions.comment import preview, text_and_params_match


class NotifySpec(SpecModel):
    to: str = Field(
        description="A target's name from HOOKS_NOTIFY_TARGETS, e.g. team-chat (never its URL)."
    )
    text: str = Field(description="Jinja template of the message.")
    subject: str | None = Field(
        None, description="Jinja template of the title: the mail's subject, the chat's bold line."
    )
    skip_unconfigured: bool = Field(
        False,
        description="When the service has no such target: do nothing (recorded), not fail.",
    )

    @field_validator("to")
    @classmethod
    def _a_name(cls, value: str) -> str:
        if "://" in value or "@" in value:
            raise ValueError(
                "name a target (e.g. team-chat); its URL or address belongs in the setting "
                "HOOKS_NOTIFY_TARGETS, not in a rule file"
            )
        return value


@dataclass(frozen=True)
class NotifyParams:
    to: str
    subject: str | None
    skip_unconfigured: bool = False

    def to_dict(self) -> dict[str, Any]:
        found: dict[str, Any] = {"to": self.to, "subject": self.subject}
        if self.skip_unconfigured:  # absent otherwise: the action keys of older plans hold
            found["skip_unconfigured"] = True
        return found

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NotifyParams:
        return cls(str(data["to"]), data.get("subject"), bool(data.get("skip_unconfigured")))


class Notify(ActionKind[NotifyParams]):
    name = "notify"
    params_type = NotifyParams
    needs_subject = False
    step_doc = "Post a message to a team chat (Slack, Mattermost, Teams) or send a mail."

    def step_type(self) -> Any:
        return NotifySpec

    def templates(self, value: Any) -> list[tuple[list[str | int], str]]:
        found: list[tuple[list[str | int], str]] = [(["text"], value.text), (["to"], value.to)]
        if value.subject:
            found.append((["subject"], value.subject))
        return found

    def plan(self, value: NotifySpec, ctx: Planning) -> Planned[NotifyParams]:
        issue = ctx.facts.issue
        if issue is not None and issue.confidential and not ctx.allow_confidential_leak:
            raise PlanError(
                f"refused: notify would carry text of confidential {issue.subject} to "
                f"{value.to}; set allow_confidential_leak: true to allow it"
            )
        to = ctx.render(value.to).strip()
        if not to:
            raise PlanError("notify: the target's name rendered empty")
        subject = ctx.render(value.subject).strip() if value.subject else None
        params = NotifyParams(to, subject or None, value.skip_unconfigured)
        return Planned(params, ctx.render(value.text))

    def perform(
        self, action: PlannedAction, params: NotifyParams, fx: Effects, resumed: bool
    ) -> Result:
        if fx.notifier is None or params.to not in fx.notifier.targets:
            if params.skip_unconfigured:
                return "satisfied", {"skipped": f"no notify target {params.to!r} is configured"}
            if fx.notifier is None:
                raise ValueError("no notify targets are configured (HOOKS_NOTIFY_TARGETS)")
        return "done", fx.notifier.send(params.to, action.text or "", params.subject, action.key)

    def describe(
        self, params: NotifyParams, subject: str | None, text: str | None, result: dict[str, Any]
    ) -> str:
        where = f"{subject}: " if subject else ""
        return f'{where}notify {params.to} "{preview(text or "")}"'

    def matches(self, want: Any, params: NotifyParams, text: str | None) -> bool:
        return text_and_params_match(want, params.to_dict(), text, "text")

    def shown(self, params: NotifyParams, text: str | None) -> str | None:
        return f"to {params.to}: {text}"
