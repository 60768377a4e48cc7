"""Note Hook and Emoji Hook payloads as GitLab's data builders shape them, sent to the hooks
that subscribed (`note_events`, `confidential_note_events`, `emoji_events`).

- Gitlab::DataBuilder::Note: `event_type` is `confidential_note` when the note is internal or
  its issue confidential (`note.confidential?(include_noteable: true)`), and such a note goes
  to the confidential note hooks (Notes::PostProcessService), header `Confidential Note Hook`;
  `object_attributes` are the NoteBuilder's safe attributes (no `internal` flag among them)
  plus `description`, `url` and `action` (`create`, `update`: 16.11+); `user` is the note's
  author; an issue's note carries the issue's hook attributes as `issue`.
- Gitlab::DataBuilder::Emoji: `event_type` is the action (`award`, `revoke`), as is
  `object_attributes.action`; an award on a note carries that note as `note` and the note's
  issue as `issue`; `user` is who awarded (or revoked).
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from hooks.testing.sim_hook_payloads import hook_time
from hooks.testing.sim_repo_hooks import merge_request_payload

if TYPE_CHECKING:
    from hooks.testing.sim_core import SimCore


def _hook_user(sim: SimCore, uid: int) -> dict[str, Any]:
    user = sim.user_rest(uid) or {}
    return {
        "id": user.get("id"),
        "name": user.get("name"),
        "username": user.get("username"),
        "avatar_url": None,
        "email": "[REDACTED]",
    }


def _issue_attrs(sim: SimCore, issue: dict[str, Any]) -> dict[str, Any]:
    """The issue's hook attributes (IssueBuilder), as in an issue event without its action."""
    _header, payload = sim.issue_hook_payload(issue, "update", {}, issue["author_id"])
    attrs: dict[str, Any] = dict(payload["object_attributes"])
    attrs.pop("action", None)
    return attrs


def private(issue: dict[str, Any], note: dict[str, Any]) -> bool:
    return bool(note.get("internal") or issue["confidential"])


def note_attrs(
    sim: SimCore, issue: dict[str, Any], note: dict[str, Any], kind: str = "Issue"
) -> dict[str, Any]:
    """A note's hook attributes (Gitlab::HookData::NoteBuilder); `issue` is the noteable, an
    issue or (kind MergeRequest) a merge request."""
    project = sim.state.projects[issue["project_id"]]
    where = "issues" if kind == "Issue" else "merge_requests"
    discussion = hashlib.sha1(f"note-{note['id']}".encode()).hexdigest()
    return {
        "attachment": None,
        "author_id": note["author"]["id"],
        "change_position": None,
        "commit_id": None,
        "created_at": hook_time(note["created_at"]),
        "discussion_id": discussion,
        "id": note["id"],
        "line_code": None,
        "note": note["body"],
        "noteable_id": issue["id"],
        "noteable_type": kind,
        "original_position": None,
        "position": None,
        "project_id": project["id"],
        "resolved_at": None,
        "resolved_by_id": None,
        "resolved_by_push": None,
        "st_diff": None,
        "system": False,
        "type": None,
        "updated_at": hook_time(note["updated_at"]),
        "updated_by_id": None,
        "description": note["body"],
        "url": f"{project['web_url']}/-/{where}/{issue['iid']}#note_{note['id']}",
    }


def _base(sim: SimCore, issue: dict[str, Any], uid: int) -> dict[str, Any]:
    project = sim.state.projects[issue["project_id"]]
    return {
        "user": _hook_user(sim, uid),
        "project_id": project["id"],
        "project": sim.project_hook_payload(project),
    }


def emit_note_hook(
    sim: SimCore,
    issue: dict[str, Any],
    note: dict[str, Any],
    action: str,
    event_uuid: str | None,
    kind: str = "Issue",
) -> None:
    """A comment made (`create`) or edited (`update`) on an issue, or (kind MergeRequest) on a
    merge request, which carries the merge request's hook attributes as `merge_request`."""
    project = sim.state.projects[issue["project_id"]]
    confidential = bool(note.get("internal")) or (kind == "Issue" and issue["confidential"])
    payload = {
        "object_kind": "note",
        "event_type": "confidential_note" if confidential else "note",
        **_base(sim, issue, note["author"]["id"]),
        "object_attributes": {**note_attrs(sim, issue, note, kind), "action": action},
        "repository": {
            "name": project["name"],
            "url": f"git@gitlab.sim:{project['path_with_namespace']}.git",
            "description": project["description"],
            "homepage": project["web_url"],
        },
    }
    if kind == "Issue":
        payload["issue"] = _issue_attrs(sim, issue)
    else:
        mr = merge_request_payload(sim, issue, "update", note["author"]["id"], {})
        payload["merge_request"] = {
            k: v for k, v in mr["object_attributes"].items() if k != "action"
        }
    header = "Confidential Note Hook" if confidential else "Note Hook"
    sim.webhooks.emit(sim.hooks_for(project), header, payload, event_uuid)


def emit_emoji_hook(
    sim: SimCore,
    issue: dict[str, Any],
    award: dict[str, Any],
    action: str,
    uid: int,
    event_uuid: str | None,
    note: dict[str, Any] | None = None,
) -> None:
    """An emoji awarded or revoked on an issue, or on a comment of one (`note`)."""
    project = sim.state.projects[issue["project_id"]]
    url = f"{project['web_url']}/-/issues/{issue['iid']}"
    payload: dict[str, Any] = {
        "object_kind": "emoji",
        "event_type": action,
        **_base(sim, issue, uid),
        "object_attributes": {
            "user_id": award["user"]["id"],
            "created_at": hook_time(award["created_at"]),
            "id": award["id"],
            "name": award["name"],
            "awardable_type": award["awardable_type"],
            "awardable_id": award["awardable_id"],
            "updated_at": hook_time(award["updated_at"]),
            "action": action,
            "awarded_on_url": f"{url}#note_{note['id']}" if note else url,
        },
    }
    if note is not None:
        payload["note"] = note_attrs(sim, issue, note)
    payload["issue"] = _issue_attrs(sim, issue)
    sim.webhooks.emit(sim.hooks_for(project), "Emoji Hook", payload, event_uuid)
