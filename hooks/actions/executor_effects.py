"""What the executor lends an action kind while it is carried out (in a gateway thread).

The subject's snapshot (read once, refreshed by each edit), user ids, and creation at most
once: what the bot creates carries `<!-- hooks:KEY -->`, so an attempt resumed after a crash
between the write and the record, or after an answer lost in transit, finds the comment or
issue it made instead of making a second one.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import gitlab
import requests

from hooks.actions.base import PlannedAction, Snapshot, Status
from hooks.actions.registry import KINDS
from hooks.backoff import Backoff
from hooks.gitlab.gateway import is_permanent
from hooks.gitlab.ops import GitlabOps
from hooks.notify.send import Notifier

TRANSIENT = (gitlab.exceptions.GitlabError, requests.RequestException)
# Before looking for what a create that failed transiently may have made: 0.2 s, 0.4 s, ... 2 s.
CREATE_RETRY = Backoff(base_s=0.2, cap_s=2.0)


def marker(key: str) -> str:
    """The hidden HTML comment that ties what the bot created to its action key."""
    return f"<!-- hooks:{key} -->"


class Performer:
    """Carries out one action with synchronous GitLab calls (inside a gateway thread).

    The action's kind decides and calls GitLab; this lends it the subject's snapshot, the
    edits that refresh it, user ids, and creation at most once (markers).
    """

    def __init__(
        self,
        ops: GitlabOps,
        *,
        health_mode: str,
        users: dict[str, int],
        snapshots: dict[str, Snapshot],
        notifier: Notifier | None = None,
    ) -> None:
        self.ops = ops
        self.health_mode = health_mode
        self.notifier = notifier
        self.users = users  # username -> id, shared by the executor's runs
        self.snapshots = snapshots  # subject -> what is known of it, shared by its actions

    def perform(self, action: PlannedAction, *, resumed: bool) -> tuple[Status, dict[str, Any]]:
        kind = KINDS.get(action.action)
        if kind is None:
            raise ValueError(f"the executor does not know the action {action.action!r}")
        return kind.run(action, self, resumed=resumed)

    # -- what a kind may use ---------------------------------------------------

    def subject(self, action: PlannedAction) -> tuple[str, int]:
        if action.project is None or action.iid is None:
            raise ValueError(f"{action.action} needs an issue subject")
        return action.project, action.iid

    def snapshot(self, action: PlannedAction) -> Snapshot:
        project, iid = self.subject(action)
        key = action.subject or f"{project}#{iid}"
        snap = self.snapshots.get(key)
        if snap is None:
            snap = Snapshot.from_rest(self.ops.issue(project, iid))
            self.snapshots[key] = snap
        return snap

    def forget(self, action: PlannedAction) -> None:
        """Drop the subject's snapshot after a write whose answer is not its REST shape."""
        project, iid = self.subject(action)
        self.snapshots.pop(action.subject or f"{project}#{iid}", None)

    def edit(self, action: PlannedAction, **fields: Any) -> dict[str, Any]:
        project, iid = self.subject(action)
        issue = self.ops.edit_issue(project, iid, **fields)
        key = action.subject or f"{project}#{iid}"
        self.snapshots[key] = Snapshot.from_rest(issue)
        return issue

    def user_ids(self, usernames: Sequence[str]) -> list[int]:
        ids = []
        cache = self.users
        for name in usernames:
            name = name.lstrip("@")
            if name not in cache:
                found = self.ops.user_id(name)
                if found is None:
                    raise ValueError(f"no GitLab user {name!r}")
                cache[name] = found
            ids.append(cache[name])
        return ids

    def note_once(
        self, action: PlannedAction, *, internal: bool, resumed: bool
    ) -> tuple[dict[str, Any], bool]:
        """The action's note, made once: (the note, whether found by its marker)."""
        project, iid = self.subject(action)
        tag = marker(action.key)

        def find() -> dict[str, Any] | None:
            notes = self.ops.notes(project, iid)
            return next((n for n in notes if tag in (n.get("body") or "")), None)

        found = find() if resumed else None
        if found is not None:
            return found, True
        body = f"{action.text or ''}\n\n{tag}"
        return self._create_once(
            lambda: self.ops.create_note(project, iid, body, internal=internal), find
        )

    def issue_once(
        self,
        action: PlannedAction,
        project: str,
        fields: Callable[[str], dict[str, Any]],
        *,
        resumed: bool,
    ) -> tuple[dict[str, Any], bool]:
        """The action's issue in `project`, made once: (the issue, whether found by marker).

        `fields` gives the POST's fields for a description that carries the marker.
        """
        tag = marker(action.key)
        created = self._find_created(project, action.key, tag) if resumed else None
        if created is not None:
            return created, True
        data = fields(f"{action.text or ''}\n\n{tag}")
        return self._create_once(
            lambda: self.ops.create_issue(project, **data),
            lambda: self._find_created(project, action.key, tag),
        )

    # -- creating at most once -------------------------------------------------

    def _create_once(
        self, create: Callable[[], dict[str, Any]], find: Callable[[], dict[str, Any] | None]
    ) -> tuple[dict[str, Any], bool]:
        """Create something at most once: (what was created or found, found by marker).

        A 5xx or a timeout does not say whether GitLab made it (a proxy's 502, an answer
        lost in transit), so before sending again look for the marker it would carry.
        """
        attempt = 0
        while True:
            try:
                return create(), False
            except TRANSIENT as exc:
                if is_permanent(exc) or attempt >= self.ops.max_retries:
                    raise
            attempt += 1
            time.sleep(CREATE_RETRY.delay(attempt))
            found = find()
            if found is not None:
                return found, True

    def _find_created(self, project: str, key: str, tag: str) -> dict[str, Any] | None:
        for issue in self.ops.issues(project, search=f"hooks:{key}", state="all"):
            if tag in (issue.get("description") or ""):
                return issue
        return None
