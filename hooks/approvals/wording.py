"""What the bot writes on approval issues: the request, its refusals, the outcome, expiry.

Every action is printed inside inline code, so a comment preview or a title quoted from an
issue cannot mention anyone, reference anything or start a quick action in the request.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from hooks.actions.base import PlannedAction
from hooks.actions.registry import describe

APPROVED_LABEL = "automation::approved"
MAINTAINER = 40
ROLES = {
    0: "no access",
    5: "Minimal access",
    10: "Guest",
    15: "Planner",
    20: "Reporter",
    30: "Developer",
    40: "Maintainer",
    50: "Owner",
    60: "Admin",
}


def role(level: int | None) -> str:
    if level is None:
        return "no membership"
    return f"{ROLES.get(level, 'access level')} ({level})"


def _code(text: str) -> str:
    return "`" + text.replace("`", "'").replace("\n", " ") + "`"


def subject_url(gitlab_url: str, subject: str) -> str:
    project, _, iid = subject.rpartition("#")
    return f"{gitlab_url.rstrip('/')}/{project}/-/issues/{iid}"


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def title(rule: str, items: int) -> str:
    return f"Approval needed: rule {rule} would act on {items} items"


def request_body(
    *,
    approval_id: int,
    rule: str,
    where: str,
    source: str,
    approve_above: int,
    actions: list[PlannedAction],
    expires_at: datetime,
    gitlab_url: str,
) -> str:
    """The request: why it was opened, how to approve it, and every planned action."""
    grouped: dict[str, list[str]] = {}
    for a in actions:
        line = describe({"action": a.action, "params": a.params, "text": a.text}, a.subject)
        if a.subject:
            line = line.removeprefix(f"{a.subject}: ")
        grouped.setdefault(a.subject or "(no issue)", []).append(line)
    listing = []
    for n, (subject, lines) in enumerate(grouped.items(), 1):
        link = f"[{subject}]({subject_url(gitlab_url, subject)})" if "#" in subject else subject
        listing.append(f"{n}. {link}: " + "; ".join(_code(line) for line in lines))
    return "\n".join(
        [
            f"The rule `{rule}` ({where}) planned {len(grouped)} items in one run ({source}),"
            f" more than its `approve_above: {approve_above}`, so it did none of them yet.",
            "",
            "**To approve**, a member of this project with at least the Maintainer role adds"
            f' the label ~"{APPROVED_LABEL}" to this issue; or an admin approves request'
            f" #{approval_id} on the dashboard (`/ui/approvals`) or with"
            f" `POST /admin/approvals/{approval_id}/approve`.",
            "",
            "What runs is the plan recorded when this request was opened, not this text: editing"
            " it changes nothing. Each item is checked again first; one that changed since is"
            " skipped and said so. Each action is carried out once.",
            "",
            f"Not approved by {_when(expires_at)}, this request expires and is closed.",
            "",
            f"**Planned actions** ({len(actions)}):",
            "",
            *listing,
        ]
    )


def refusal(username: str, level: int | None) -> str:
    return (
        f"Not approved: @{username} has {role(level)} in this project; approving needs the"
        f" Maintainer role ({MAINTAINER}) or higher. The label was removed; a Maintainer may"
        " add it."
    )


def unreadable(username: str, project: str, error: str) -> str:
    return (
        f"Not approved: the bot could not read @{username}'s role in {project} ({error});"
        " it needs to see the project's members. An admin may approve on the dashboard."
    )


def not_pending(row_status: str, decided_by: str | None, at: datetime | None) -> str:
    """Why an approval on a request that is no longer waiting changes nothing."""
    when = f" on {_when(at)}" if at else ""
    if row_status == "expired":
        return (
            f"Not carried out: this request expired{when} and was closed. A later run of the"
            " rule asks again."
        )
    who = f" by @{decided_by}" if decided_by and decided_by != "admin" else " by an admin"
    if row_status == "done":
        return f"Already approved{who} and carried out{when}: nothing runs twice."
    return f"Already approved{who}{when}: the plan is carried out once."


def outcome_note(
    approved_by: str, results: list[dict[str, Any]], edited: bool, gitlab_url: str
) -> str:
    """What the approval carried out, and what it skipped and why."""
    done = [r for r in results if r["status"] not in ("skipped", "failed")]
    skipped = [r for r in results if r["status"] == "skipped"]
    failed = [r for r in results if r["status"] == "failed"]
    lines = [
        f"Approved by {approved_by}. Carried out the recorded plan: {len(done)} action(s) done,"
        f" {len(skipped)} skipped, {len(failed)} failed."
    ]
    if edited:
        lines.append(
            "This issue's text was edited since the request was opened; the edit was ignored:"
            " the recorded plan ran."
        )
    reasons: dict[str, str] = {}
    for r in skipped + failed:
        reasons.setdefault(r.get("subject") or "-", r.get("why") or r.get("error") or "")
    if reasons:
        lines += ["", "Skipped or failed:"]
        for subject, why in reasons.items():
            link = f"[{subject}]({subject_url(gitlab_url, subject)})" if "#" in subject else subject
            lines.append(f"- {link}: {_code(why)}")
    return "\n".join(lines)


def expired(expires_at: datetime) -> str:
    return (
        f"Expired: not approved by {_when(expires_at)}, so nothing of the plan was done and this"
        " request is closed. A later run of the rule asks again."
    )
