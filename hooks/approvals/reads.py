"""What approvals read from GitLab (synchronous, inside a gateway thread)."""

from __future__ import annotations

from typing import Any

import gitlab

from hooks.actions.base import Snapshot
from hooks.approvals.wording import APPROVED_LABEL
from hooks.gitlab.gateway import error_message
from hooks.gitlab.ops import GitlabOps


def read_items(ops: GitlabOps, subjects: list[str]) -> dict[str, Snapshot | str]:
    """Each item's state now, or why it cannot be read (deleted, moved, hidden)."""
    found: dict[str, Snapshot | str] = {}
    for subject in subjects:
        project, _, iid = subject.rpartition("#")
        try:
            found[subject] = Snapshot.from_rest(ops.issue(project, int(iid)))
        except gitlab.exceptions.GitlabHttpError as exc:
            if exc.response_code not in (403, 404):
                raise
            found[subject] = f"no longer readable: {error_message(exc)}"
    return found


def label_added(ops: GitlabOps, project: str, iid: int) -> tuple[dict[str, Any], str] | None:
    """The approval label's latest `add` event on a request issue that carries it, with the
    issue's text; None when the issue does not carry the label."""
    issue = ops.issue(project, iid)
    if APPROVED_LABEL not in (issue.get("labels") or []):
        return None
    added = [
        e
        for e in ops.label_events(project, iid)
        if e.get("action") == "add" and (e.get("label") or {}).get("name") == APPROVED_LABEL
    ]
    return (added[-1], issue.get("description") or "") if added else None
