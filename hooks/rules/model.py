"""The rules language: every key a rule file may hold, as pydantic models with descriptions.

`hooks schema` prints the JSON Schema generated from these models; editors use it to
complete and check rule files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, create_model, field_validator, model_validator

from hooks.actions.base import SpecModel
from hooks.actions.comment import CommentSpec as CommentSpec
from hooks.actions.health import HealthSpec as HealthSpec
from hooks.actions.issue import CreateIssueSpec as CreateIssueSpec
from hooks.actions.registry import KINDS
from hooks.rules.comment_model import CommandTest, EmojiTest, TextTest
from hooks.rules.example_model import Example as Example
from hooks.rules.example_model import ExampleEvent as ExampleEvent
from hooks.rules.example_model import ExampleGitlab as ExampleGitlab
from hooks.rules.for_each_model import ForEach as ForEach
from hooks.rules.for_each_model import IssueQuery as IssueQuery
from hooks.rules.guard_rails import APPROVE_ABOVE, Limits
from hooks.rules.vocabulary import AccessRole, HealthStatus
from hooks.schedules.triggers import Schedule

USERNAME = re.compile(r"@?[A-Za-z0-9_][A-Za-z0-9_.-]*")
IssueAction = Literal["open", "close", "reopen", "update"]
ReleaseAction = Literal["create", "update", "delete"]
MilestoneAction = Literal["create", "close", "reopen"]
NoteAction = Literal["create", "update"]
EmojiAction = Literal["award", "revoke"]


# -- triggers -------------------------------------------------------------------


class Triggers(SpecModel):
    """What starts the rule: webhook events with their actions, and/or a schedule."""

    issue: list[IssueAction] | None = Field(None, description="Issue events: open, close, ...")
    confidential_issue: list[IssueAction] | None = Field(
        None, description="Confidential issue events."
    )
    work_item: list[IssueAction] | None = Field(None, description="Work item events.")
    release: list[ReleaseAction] | None = Field(None, description="Release events.")
    milestone: list[MilestoneAction] | None = Field(
        None, description="Milestone events (GitLab 18.2+)."
    )
    note: list[NoteAction] | None = Field(
        None,
        description="Comments on issues and work items (Note Hook): create, update. The bot's"
        " own comments never trigger rules.",
    )
    emoji: list[EmojiAction] | None = Field(
        None,
        description="Emoji reactions on issues, work items and their comments (Emoji Hook):"
        " award, revoke.",
    )
    schedule: Schedule | None = Field(None, description="Run on a schedule instead of an event.")

    @model_validator(mode="after")
    def _at_least_one(self) -> Triggers:
        if not any(getattr(self, name) for name in type(self).model_fields):
            raise ValueError(
                "'on' needs at least one trigger: " + ", ".join(type(self).model_fields)
            )
        return self


# -- conditions -----------------------------------------------------------------


class LabelSet(SpecModel):
    """Label tests; `scope::*` matches any label of that scope."""

    all: list[str] = Field(default_factory=list, description="Every one of these is present.")
    any: list[str] = Field(default_factory=list, description="At least one is present.")
    none: list[str] = Field(default_factory=list, description="None of these is present.")


class DateTest(SpecModel):
    """A date relative to today: 'today', '+3d', '-1w' or an ISO date."""

    before: str | None = Field(None, description="Strictly before this day.")
    after: str | None = Field(None, description="Strictly after this day.")
    within: str | None = Field(None, description="From today up to today plus this ('3d').")
    none: bool | None = Field(None, description="true: the date is not set; false: it is.")


class AgeTest(SpecModel):
    """How long ago something happened."""

    older_than: str | None = Field(None, description="More than this long ago ('7d').")
    within: str | None = Field(None, description="At most this long ago ('1d').")


class MilestoneTest(SpecModel):
    """Tests of the subject's milestone (the event's own milestone for milestone events)."""

    title: str | None = Field(None, description="Title glob, e.g. 'Sprint *'.")
    none: bool | None = Field(None, description="true: the subject has no milestone.")
    any: bool | None = Field(None, description="true: the subject has a milestone.")
    current: bool | None = Field(None, description="It is the current one (start <= today <= due).")
    next: bool | None = Field(None, description="It is the next one by start date.")
    due_within: str | None = Field(None, description="Its due date is within this ('3d').")
    expired: bool | None = Field(None, description="Its due date has passed.")
    state: Literal["active", "closed"] | None = Field(None, description="active or closed.")
    has_next: bool | None = Field(
        None, description="Whether a later milestone (by start date) of the same owner exists."
    )
    of: str | None = Field(
        None,
        description=(
            "It is one of this project's milestones (the project's own or one of its groups'),"
            " matched by id: another team's same-titled sprint is not."
        ),
    )


class IterationTest(SpecModel):
    """Tests of the subject's iteration."""

    none: bool | None = Field(None, description="true: no iteration.")
    title: str | None = Field(None, description="Title glob.")


class AssigneeTest(SpecModel):
    """Tests of the subject's assignees (usernames without @)."""

    any: list[str] = Field(default_factory=list, description="One of these is assigned.")
    none: bool | None = Field(None, description="true: nobody is assigned.")


class StatusTest(SpecModel):
    """Tests of the subject's work item status (GitLab 18.2+, Premium); names match
    case-insensitively, as GitLab matches them."""

    any: list[str] = Field(default_factory=list, description="The status is one of these.")
    none: list[str] = Field(default_factory=list, description="The status is none of these.")
    category: list[Literal["triage", "to_do", "in_progress", "done", "canceled"]] = Field(
        default_factory=list, description="The status is of one of these categories."
    )


class StatusChangeTest(SpecModel):
    """What this event changed the status from and to. GitLab's webhooks (through 18.x)
    carry no status, so this holds only for a payload whose `changes` has `status`."""

    to: str | list[str] | None = Field(None, description="The new status is (one of) this.")
    from_: str | list[str] | None = Field(
        None, alias="from", description="The previous status was (one of) this."
    )


class Condition(SpecModel):
    """Every key given must hold; `all`, `any` and `not` combine conditions."""

    all: list[Condition] | None = Field(None, description="Every sub-condition holds.")
    any: list[Condition] | None = Field(None, description="At least one sub-condition holds.")
    not_: Condition | None = Field(None, alias="not", description="The sub-condition fails.")
    state: Literal["opened", "closed"] | None = Field(None, description="Issue state.")
    labels: LabelSet | list[str] | None = Field(
        None, description="A list means all of them; or all/any/none."
    )
    forbidden_labels: list[str] | None = Field(None, description="None of these is present.")
    label_added: list[str] | None = Field(None, description="One of these was added by the event.")
    label_removed: list[str] | None = Field(
        None, description="One of these was removed by the event."
    )
    changed: list[str] | None = Field(
        None, description="One of these fields changed in the event ('milestone_id', 'due_date')."
    )
    due_date: DateTest | None = Field(None, description="The subject's due date.")
    updated: AgeTest | None = Field(None, description="When the subject was last updated.")
    milestone: MilestoneTest | None = Field(None, description="The subject's milestone.")
    iteration: IterationTest | None = Field(None, description="The subject's iteration.")
    health: list[HealthStatus | Literal["none"]] | None = Field(
        None, description="Health status is one of these ('none': not set)."
    )
    status: StatusTest | None = Field(
        None, description="The work item status (read through GraphQL; Premium, 18.2+)."
    )
    status_changed: StatusChangeTest | None = Field(
        None, description="The event changed the status (from the payload's `changes`)."
    )
    author: list[str] | None = Field(None, description="Author is one of these usernames.")
    assignees: AssigneeTest | None = Field(None, description="Assignee tests.")
    project: str | None = Field(None, description="The subject's project path glob, e.g. 'demo/*'.")
    event_project: str | None = Field(
        None,
        description=(
            "Path glob of the project the event came from (under a group hook, events of every"
            " project arrive; a group milestone's event has none)."
        ),
    )
    confidential: bool | None = Field(None, description="The subject is (not) confidential.")
    release_tag: str | None = Field(None, description="Release tag glob, e.g. 'v1.*'.")
    comment: TextTest | None = Field(
        None, description="The comment (note event) or the comment reacted to (emoji event)."
    )
    command: CommandTest | None = Field(
        None, description="The comment holds a command for the bot ('@bot health at risk')."
    )
    emoji: EmojiTest | None = Field(None, description="The emoji of an emoji event.")
    author_access: AccessRole | None = Field(
        None,
        description="The event's user (the comment's author, the emoji's awarder) has at least"
        " this role in the project, direct or inherited (read from the members API, cached).",
    )
    expr: str | None = Field(
        None, description="Sandboxed Jinja expression, e.g. \"issue.title.startswith('Epic')\"."
    )


# -- actions --------------------------------------------------------------------


ACTION_KEYS = tuple(KINDS)


class ActionStep(SpecModel):
    """What every `Action` has; its keys are the registry's kinds (`hooks.actions`)."""

    if TYPE_CHECKING:
        once: str | None

    @model_validator(mode="after")
    def _exactly_one(self) -> ActionStep:
        given = [key for key in ACTION_KEYS if getattr(self, key) not in (None, False)]
        if len(given) != 1:
            found = f"found {', '.join(given)}" if given else "found none"
            raise ValueError(f"an action needs exactly one of {', '.join(ACTION_KEYS)}; {found}")
        return self

    @property
    def kind(self) -> str:
        return next(key for key in ACTION_KEYS if getattr(self, key) not in (None, False))

    @property
    def value(self) -> Any:
        """The value of the step's action key (`[...]` of `add_labels: [...]`)."""
        return getattr(self, self.kind)


def _action_model() -> type[ActionStep]:
    fields: dict[str, Any] = {
        name: (kind.step_type(), Field(None, description=kind.step_doc))
        for name, kind in KINDS.items()
    }
    fields["once"] = (
        str | None,
        Field(
            None,
            description="per_sprint: at most once per item per milestone; per_subject: once per"
            " item ever; any other text is a template whose value is the dedupe key.",
        ),
    )
    return create_model(
        "Action",
        __base__=ActionStep,
        __module__=__name__,
        __doc__="One step of `do:`; exactly one action key.",
        **fields,
    )


if TYPE_CHECKING:
    Action = ActionStep
else:
    Action = _action_model()


# -- rules ----------------------------------------------------------------------


class Rule(SpecModel):
    """One rule: when it runs, on what, under which conditions, doing what."""

    name: str = Field(
        pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$",
        max_length=80,
        description="Unique, kebab-case; used in keys, logs and the dashboard.",
    )
    description: str = ""
    enabled: bool = True
    enabled_when: dict[str, Any] | None = Field(
        None,
        description="On only when these vars have these values, e.g. {sprints: iterations}:"
        " a rule pack's variant that one var switches.",
    )
    dry_run: bool = Field(False, description="Shadow mode: plan and record, never write.")
    on: Triggers
    for_each: ForEach | None = None
    if_: Condition | None = Field(None, alias="if")
    do: list[Action] = Field(min_length=1)
    allow_confidential_leak: bool = Field(
        False, description="Allow text from a confidential subject to go somewhere wider."
    )
    limits: Limits | None = Field(None, description="Most items acted on per run and per hour.")
    approve_above: int | None = Field(None, ge=0, description=APPROVE_ABOVE)
    owner: str | None = Field(
        None,
        max_length=255,
        json_schema_extra={"pattern": f"^{USERNAME.pattern}$"},  # editors check it too
        description="GitLab username answerable for the rule: assigned the issue opened when"
        " the rule pauses itself.",
    )
    pause_after: int = Field(
        5,
        ge=0,
        description="Circuit breaker: the rule pauses itself (plans nothing) after this many of"
        " its actions failed in a row; a success resets the count. 0: never pause.",
    )
    examples: list[Example] = Field(default_factory=list)

    @field_validator("owner")
    @classmethod
    def _username(cls, value: str | None) -> str | None:
        if value is not None and not USERNAME.fullmatch(value):
            raise ValueError(f"{value!r} is not a GitLab username (e.g. alice or @alice)")
        return value


class RuleFile(SpecModel):
    """A rule file: `rules: [...]`, and `vars:` that any rule file may use as ${name}."""

    vars: dict[str, Any] = Field(default_factory=dict, description="Values for ${name}.")
    rules: list[Rule] = Field(default_factory=list)


@dataclass(frozen=True)
class SourceRef:
    file: str
    line: int


@dataclass
class RuleSet:
    """The loaded rules in file order, with where each came from."""

    rules: list[Rule] = field(default_factory=list)
    sources: dict[str, SourceRef] = field(default_factory=dict)
    vars: dict[str, Any] = field(default_factory=dict)
    approval_project: str | None = None  # HOOKS_APPROVAL_PROJECT, else vars: approval_project
    # Which version of the rules this is: a commit SHA (origin "gitlab") or a content hash
    # of the folder (origin "folder"). The audit trail names it for every planned action.
    version: str = ""
    origin: str = "folder"

    def by_name(self, name: str) -> Rule:
        for rule in self.rules:
            if rule.name == name:
                return rule
        raise KeyError(name)

    def scheduled(self) -> list[Rule]:
        return [r for r in self.rules if r.enabled and r.on.schedule is not None]
