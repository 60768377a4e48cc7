"""The simulated GitLab's core: its data (state, faults, request log, webhook sender), a
milestone found by title, and the reads tests make; it builds on its REST shapes
(`sim_shapes`), webhook payloads (`sim_hook_payloads`) and changes (`sim_changes`), each a
class the next extends.
Route modules (`sim_rest`, `sim_issues`, ...) work on it; `simulator.py` loads a seed into it
and serves it (the routes never import that assembly).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from hooks.testing.sim_changes import SimChanges
from hooks.testing.sim_faults import Faults, RequestRecord
from hooks.testing.sim_seed import to_seed
from hooks.testing.sim_state import BASE_URL, State
from hooks.testing.sim_webhooks import WebhookSender


class SimCore(SimChanges):
    """One simulated GitLab instance's data and behaviour, without its seed loading or app."""

    def __init__(
        self,
        *,
        token: str = "sim-token",
        today: date | None = None,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self.now = now or (lambda: datetime.now(UTC))
        self.today = today or self.now().date()
        self.lock = threading.RLock()
        self.state = State()
        self.faults = Faults()
        self.requests: list[RequestRecord] = []
        self._requests_lock = threading.Lock()
        self.webhooks = WebhookSender(BASE_URL)
        self.url = ""
        self.bot_token = token

    def _milestone_by_title(
        self, project: dict[str, Any], title: str | None, owner: str | None = None
    ) -> dict[str, Any] | None:
        """The milestone with this title nearest the project: its own, then its group's, then
        the ancestor groups' (titles repeat across owners)."""
        if not title:
            return None
        s = self.state
        owners = [("project_id", project["id"])] + [
            ("group_id", g["id"]) for g in s.ancestors(s.project_group(project))
        ]
        if owner is not None:
            owners = [
                (k, i)
                for k, i in owners
                if (s.projects[i]["path_with_namespace"] if k == "project_id" else None) == owner
                or (s.groups[i]["full_path"] if k == "group_id" else None) == owner
            ]
        for key, owner_id in owners:
            for m in s.milestones.values():
                if m.get(key) == owner_id and m["title"] == title:
                    return m
        return None

    # -- helpers for tests -----------------------------------------------------

    def _project_or_fail(self, path: str) -> dict[str, Any]:
        project = self.state.project(path)
        if project is None:
            raise KeyError(f"no project {path}")
        return project

    def issue(self, path: str, iid: int) -> dict[str, Any]:
        """An issue's REST shape (thread-safe)."""
        with self.lock:
            found = self.state.issue(self._project_or_fail(path)["id"], iid)
            if found is None:
                raise KeyError(f"no issue {path}#{iid}")
            return self.issue_rest(found)

    def issues(self, path: str) -> list[dict[str, Any]]:
        with self.lock:
            pid = self._project_or_fail(path)["id"]
            return [
                self.issue_rest(i) for i in self.state.issues.values() if i["project_id"] == pid
            ]

    def notes(self, path: str, iid: int) -> list[dict[str, Any]]:
        with self.lock:
            found = self.state.issue(self._project_or_fail(path)["id"], iid)
            assert found is not None
            return [dict(n) for n in self.state.notes[found["id"]]]

    def links(self, path: str, iid: int) -> list[dict[str, Any]]:
        with self.lock:
            found = self.state.issue(self._project_or_fail(path)["id"], iid)
            assert found is not None
            return [dict(k) for k in self.state.links if found["id"] in (k["source"], k["target"])]

    def milestone(self, title: str, owner: str | None = None) -> dict[str, Any]:
        """A milestone's REST shape by title; `owner` (a group or project path) picks one of
        several same-titled milestones (the first declared otherwise)."""
        with self.lock:
            s = self.state
            m = next(
                m
                for m in s.milestones.values()
                if m["title"] == title
                and (
                    owner is None
                    or (m["group_id"] and s.groups[m["group_id"]]["full_path"] == owner)
                    or (
                        m["project_id"]
                        and s.projects[m["project_id"]]["path_with_namespace"] == owner
                    )
                )
            )
            return self.milestone_rest(m)

    def token_for(self, username: str) -> str:
        with self.lock:
            user = self.state.user_by_name(username)
            assert user is not None, username
            for token, uid in self.state.tokens.items():
                if uid == user["id"]:
                    return token
            token = f"{username}-token"
            self.state.tokens[token] = user["id"]
            return token

    def recorded(self, method: str | None = None, user: str | None = None) -> list[RequestRecord]:
        """The request log, optionally only one method and/or one user's requests."""
        with self._requests_lock:
            return [
                r
                for r in self.requests
                if (method is None or r.method == method) and (user is None or r.user == user)
            ]

    def clear_requests(self) -> None:
        with self._requests_lock:
            self.requests.clear()

    def wait_webhooks_idle(self, timeout: float = 10.0) -> bool:
        return self.webhooks.wait_idle(timeout)

    def dump(self) -> dict[str, Any]:
        """The current state in the seed format (round-trips through `load`)."""
        with self.lock:
            return to_seed(self.state)
