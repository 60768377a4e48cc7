"""`for_each:` of the rules language: the issues a rule fans out over (a milestone's, an
iteration's with its child tasks, or a plain issue list); `hooks.rules.model` holds it in `Rule`."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from hooks.actions.base import SpecModel


class IssueQuery(SpecModel):
    """Which issues a `for_each` rule acts on."""

    project: str | None = Field(
        None,
        description=(
            "Project path whose milestones (its own and its groups') the milestone is found"
            " among; default: the event's project. A group milestone's issues are listed in"
            " every project of the group."
        ),
    )
    milestone: str | None = Field(
        None,
        description="'current', 'next', 'event' (the milestone of a milestone event), 'closed'"
        " (the event's closed milestone, else the latest closed past-due one) or a title.",
    )
    iteration: Literal["ended", "current"] | None = Field(
        None,
        description="Instead of a milestone: the items of the iteration that ended last (or the"
        " current one), in the cadence `cadence` names.",
    )
    cadence: str | None = Field(
        None,
        description="Title glob of the iteration cadence (each team has its own); needed when"
        " the project sees more than one.",
    )
    with_tasks: bool = Field(
        False, description="Also each item's child tasks in the same state (any iteration)."
    )
    state: Literal["opened", "closed", "all"] = Field("opened", description="Issue state.")
    labels: list[str] = Field(default_factory=list, description="Issues carrying all of these.")

    @model_validator(mode="after")
    def _milestone_or_iteration(self) -> IssueQuery:
        if self.milestone and self.iteration:
            raise ValueError("for_each lists a milestone's or an iteration's items, not both")
        if (self.cadence or self.with_tasks) and not self.iteration:
            raise ValueError("'cadence' and 'with_tasks' go with 'iteration'")
        return self


class ForEach(SpecModel):
    """Fan-out: run the conditions and actions once per matching issue."""

    issues: IssueQuery
