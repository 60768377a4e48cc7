"""Every action kind, by the key a rule step names it with (and the ledger records).

Adding a kind: write its module (a subclass of `hooks.actions.base.ActionKind`) and list it
here; the rules model takes its step key, the engine its planning, the executor its call,
the demo and `hooks test` its wording from this mapping.
"""

from __future__ import annotations

import json
from typing import Any

from hooks.actions.assign import Assign
from hooks.actions.base import ActionKind
from hooks.actions.comment import Comment
from hooks.actions.health import SetHealth
from hooks.actions.issue import CreateIssue
from hooks.actions.iteration import SetIteration
from hooks.actions.labels import AddLabels, RemoveLabels
from hooks.actions.milestone import MoveToMilestone
from hooks.actions.notify import Notify
from hooks.actions.state import Close, Reopen
from hooks.actions.status import SetStatus

# In this order in the rules model, its JSON Schema and its error messages.
KINDS: dict[str, ActionKind[Any]] = {
    kind.name: kind
    for kind in (
        AddLabels(),
        RemoveLabels(),
        SetHealth(),
        Comment(),
        MoveToMilestone(),
        SetIteration(),
        CreateIssue(),
        Assign(),
        Close(),
        Reopen(),
        Notify(),
        SetStatus(),
    )
}


def describe(detail: dict[str, Any], subject: str | None) -> str:
    """One line for an action of the audit trail (`action`, `params`, `text`, `result`)."""
    name, params = detail["action"], detail.get("params", {})
    kind = KINDS.get(name)
    if kind is None:
        return f"{subject}: {name} {json.dumps(params)}"
    typed = kind.from_dict(params)
    return kind.describe(typed, subject, detail.get("text"), detail.get("result", {}))
