"""The issue that tells a paused rule's owner why it paused: opened once, updated after.

The issue carries `<!-- hooks:breaker.RULE -->`; while an open one exists, pausing again adds
a note to it instead of opening another. Runs in a gateway thread (synchronous calls).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hooks.gitlab.ops import GitlabOps
from hooks.rules.safety import defuse


@dataclass(frozen=True)
class PauseNotice:
    """What the owner is told: which rule, why, and how it resumes."""

    rule: str
    owner: str | None
    reason: str
    source: str | None  # file:line of the rule

    def marker(self) -> str:
        return f"<!-- hooks:breaker.{self.rule} -->"

    def title(self) -> str:
        return f"Automation rule {self.rule} paused itself"

    def body(self) -> str:
        who = f"@{self.owner}: " if self.owner else "This rule names no `owner:`. "
        where = f" ({self.source})" if self.source else ""
        return (
            f"{who}the automation rule `{self.rule}`{where} paused itself: its actions kept"
            f" failing.\n\n"
            f"Why: {defuse(self.reason)}\n\n"
            "While it is paused the rule plans nothing. It resumes when a changed version of"
            " the rule is loaded (edit it, then reload the rules or send SIGHUP), or when an"
            " admin resumes it: the Resume button on the dashboard's Rules page, or"
            f" `POST /admin/rules/{self.rule}/resume`.\n\n{self.marker()}"
        )


def note_resumed(ops: GitlabOps, reference: str, rule: str, by: str) -> None:
    """Tell the owner's issue (`project#iid`) that the rule runs again."""
    project, _, iid = reference.rpartition("#")
    ops.create_note(
        project,
        int(iid),
        f"Resumed ({defuse(by)}): the rule plans again; its failure count starts at 0."
        f"\n\n<!-- hooks:breaker.{rule} -->",
        internal=False,
    )


def open_or_update(ops: GitlabOps, project: str, notice: PauseNotice) -> dict[str, Any]:
    """The open issue for this rule with a note added, or a new one assigned to the owner."""
    tag = notice.marker()
    for issue in ops.issues(project, search=f"hooks:breaker.{notice.rule}", state="opened"):
        if tag in (issue.get("description") or ""):
            ops.create_note(
                project,
                int(issue["iid"]),
                f"Paused again. Why: {defuse(notice.reason)}\n\n{tag}",
                internal=False,
            )
            return issue
    fields: dict[str, Any] = {"title": notice.title(), "description": notice.body()}
    if notice.owner:
        owner_id = ops.user_id(notice.owner)
        if owner_id is not None:
            fields["assignee_ids"] = [owner_id]
    return ops.create_issue(project, **fields)
