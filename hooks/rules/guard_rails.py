"""The rule keys of the guard rails (`limits`, `approve_above`), part of the rules model
(`hooks.rules.model` uses them; `hooks.approvals` carries them out)."""

from __future__ import annotations

from pydantic import Field

from hooks.actions.base import SpecModel

APPROVE_ABOVE = (
    "A run that would act on more items than this does none of them and opens one approval"
    " request (an issue in the approval project: HOOKS_APPROVAL_PROJECT or vars:"
    " approval_project); a Maintainer's `automation::approved` label or an admin carries out"
    " the recorded plan."
)


class Limits(SpecModel):
    """How many items (subjects) one rule may act on; what is over the limit is left undone
    and recorded (trace, audit), for a later run to pick up."""

    per_run: int | None = Field(
        None, ge=1, description="Most items one run (delivery, sweep, scheduled fire) acts on."
    )
    per_hour: int | None = Field(
        None, ge=1, description="Most items acted on in the last hour, across runs and replicas."
    )
