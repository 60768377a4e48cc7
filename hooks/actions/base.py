"""What every action kind shares: the planned action, the plan-time context, the decision
types, and the effects the executor lends a kind to carry itself out.

Imports nothing of the engine, the rules model or the executor, so each of them may import
this module (and the registry) without an import circle.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Literal, Protocol, TypeVar, cast

from pydantic import BaseModel, ConfigDict

from hooks.events import IssueEvent
from hooks.rules.reader import IssueInfo, MilestoneInfo, StatusInfo

if TYPE_CHECKING:  # python-gitlab is loaded only where actions are carried out
    from hooks.gitlab.ops import GitlabOps
    from hooks.notify.send import Notifier

Status = Literal["done", "satisfied", "dry_run", "failed", "capped", "busy", "retry"]
Result = tuple[Status, dict[str, Any]]


class PlanError(Exception):
    """A rule that cannot be planned for this subject; recorded as that rule's error."""


class SpecModel(BaseModel):
    """The configuration of every model of the rules language (rules, conditions, steps,
    examples): unknown keys refused, aliases accepted, values frozen."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class Params(Protocol):
    """An action kind's typed parameters; `to_dict()` is the stored JSON shape."""

    def to_dict(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class PlannedAction:
    """One action to perform once: what, on which subject, with which parameters."""

    rule: str
    action: str
    subject: str | None
    project: str | None
    iid: int | None
    args: Params
    text: str | None
    key: str
    dry_run: bool

    @property
    def params(self) -> dict[str, Any]:
        """The parameters as stored in the ledger and the audit trail."""
        return self.args.to_dict()

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "action": self.action,
            "subject": self.subject,
            "params": self.params,
            "text": self.text,
            "key": self.key,
            "dry_run": self.dry_run,
        }


# -- planning -------------------------------------------------------------------------


class SubjectFacts(Protocol):
    """What a kind may know of its subject while planning (hooks.rules.conditions.Facts)."""

    project: str
    issue: IssueInfo | None
    internal_comment: bool  # the event's comment is internal: quote it only internally

    sprint_iteration: MilestoneInfo | None  # the iteration a for_each listed the subject from

    @property
    def milestone(self) -> MilestoneInfo | None: ...
    @property
    def milestones(self) -> list[MilestoneInfo]: ...
    def milestone_if_read(self) -> MilestoneInfo | None: ...


@dataclass(slots=True)  # one per planned action: not frozen, which costs a setattr per field
class Planning:
    """Everything a kind may use to plan one step of one rule for one subject."""

    rule: str
    allow_confidential_leak: bool
    facts: SubjectFacts
    today: date
    render: Callable[[str], str]
    milestones: Callable[[str], list[MilestoneInfo]]  # those a project sees
    iterations: Callable[[str], list[MilestoneInfo]]
    statuses: Callable[[str], list[StatusInfo]] = lambda _project: []  # the namespace allows


P = TypeVar("P", bound=Params)


@dataclass(slots=True)
class Planned(Generic[P]):
    """A kind's plan: its parameters, its text (comment, description), where it lands."""

    params: P
    text: str | None = None
    target: tuple[str, int] | None = None  # another issue than the subject
    home: str | None = None  # the project it lands in without a subject (create_issue)


# -- the subject's current state and the decisions taken against it -------------------


@dataclass
class Snapshot:
    """What is known of an issue's current state, to skip writes that change nothing."""

    labels: set[str] = field(default_factory=set)
    milestone_id: int | None = None
    milestone_title: str | None = None
    state: str | None = None
    assignees: set[str] = field(default_factory=set)
    health: str | None = None
    iteration_id: int | None = None
    updated_at: str | None = None  # GitLab's, when read from the API (after the bot's edit)

    @classmethod
    def from_event(cls, event: IssueEvent) -> Snapshot:
        attrs = event.object_attributes
        return cls(
            labels=set(event.label_titles),
            milestone_id=attrs.milestone_id,
            state=attrs.state,
            assignees={u.username for u in event.assignees if u.username},
            health=attrs.health_status,
            iteration_id=attrs.iteration_id,
        )

    @classmethod
    def from_rest(cls, issue: dict[str, Any]) -> Snapshot:
        milestone = issue.get("milestone") or {}
        iteration = issue.get("iteration") or {}
        return cls(
            labels=set(issue.get("labels") or []),
            milestone_id=milestone.get("id"),
            milestone_title=milestone.get("title"),
            state=issue.get("state"),
            assignees={a["username"] for a in issue.get("assignees") or [] if "username" in a},
            health=issue.get("health_status"),
            iteration_id=iteration.get("id"),
            updated_at=issue.get("updated_at"),
        )


@dataclass(frozen=True)
class Satisfied:
    """Nothing to write: the subject already is as the action wants (or moved on)."""

    result: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Edit:
    """One `PUT /issues/:iid` with these fields; `result` is recorded when it is done."""

    fields: dict[str, Any]
    result: dict[str, Any] = field(default_factory=dict)


# -- carrying out ---------------------------------------------------------------------


class Effects(Protocol):
    """What the executor lends a kind while it performs one action (a gateway thread).

    Markers, found-by-marker and the user cache stay the executor's.
    """

    ops: GitlabOps
    health_mode: str
    notifier: Notifier | None  # the team's chat and mail targets, when configured

    def subject(self, action: PlannedAction) -> tuple[str, int]: ...
    def snapshot(self, action: PlannedAction) -> Snapshot: ...
    def forget(self, action: PlannedAction) -> None: ...
    def edit(self, action: PlannedAction, **fields: Any) -> dict[str, Any]: ...
    def user_ids(self, usernames: Sequence[str]) -> list[int]: ...
    def note_once(
        self, action: PlannedAction, *, internal: bool, resumed: bool
    ) -> tuple[dict[str, Any], bool]: ...
    def issue_once(
        self,
        action: PlannedAction,
        project: str,
        fields: Callable[[str], dict[str, Any]],  # the POST's, given the marked description
        *,
        resumed: bool,
    ) -> tuple[dict[str, Any], bool]: ...


class ActionKind(ABC, Generic[P]):
    """One action kind: its step spec, planning, decision, GitLab call and wording."""

    name: ClassVar[str]
    params_type: ClassVar[type[Any]]
    needs_subject: ClassVar[bool] = True  # False: it may act without an issue subject
    step_doc: ClassVar[str | None] = None  # the step key's description in the schema

    # -- the rules language

    @abstractmethod
    def step_type(self) -> Any:
        """The type of the step key's value (`add_labels: [...]`)."""

    def templates(self, value: Any) -> list[tuple[list[str | int], str]]:
        """The templates in a step's value, with their path under the key (`hooks check`)."""
        return []

    # -- planning and the stored shape

    @abstractmethod
    def plan(self, value: Any, ctx: Planning) -> Planned[P]:
        """Parameters, text and target from the step's value and the subject's facts."""

    def from_dict(self, data: dict[str, Any]) -> P:
        found: P = self.params_type.from_dict(data)
        return found

    def typed(self, args: Params) -> P:
        if not isinstance(args, self.params_type):
            raise ValueError(f"{self.name} was planned with {type(args).__name__} parameters")
        return cast(P, args)

    # -- carrying out

    @abstractmethod
    def perform(self, action: PlannedAction, params: P, fx: Effects, resumed: bool) -> Result:
        """Decide against the subject's current state, then make the GitLab call, if any."""

    def run(self, action: PlannedAction, fx: Effects, *, resumed: bool) -> Result:
        return self.perform(action, self.typed(action.args), fx, resumed)

    def rest_only(self, params: P, health_mode: str) -> bool:
        """Whether it writes only through `PUT /issues/:iid` (whose answer is the new state)."""
        return False

    # -- wording

    def describe(
        self, params: P, subject: str | None, text: str | None, result: dict[str, Any]
    ) -> str:
        """One line for the demo and traces: what the bot did."""
        return f"{subject}: {self.name} {json.dumps(params.to_dict())}"

    def matches(self, want: Any, params: P, text: str | None) -> bool:
        """Whether a rule example's expectation (`{kind: want}`) holds for a plan."""
        return True

    def shown(self, params: P, text: str | None) -> str | None:
        """The plan as a failed expectation shows it."""
        return json.dumps(params.to_dict(), sort_keys=True, default=str)


def apply_edit(decision: Satisfied | Edit, action: PlannedAction, fx: Effects) -> Result:
    """Carry out a decision that is nothing or one PUT."""
    if isinstance(decision, Satisfied):
        return "satisfied", decision.result
    fx.edit(action, **decision.fields)
    return "done", decision.result
