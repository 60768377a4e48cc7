"""The simulator's data: users, groups, projects, labels, milestones, issues, notes, hooks,
repositories (`sim_git`), commit statuses and comments, merge requests and their notes.

Loaded from a seed (format in `sim_seed.py`) by `simulator.py`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from hooks.catchup.reconcile_events import gitlab_time
from hooks.testing.sim_git import Repo

BASE_URL = "http://gitlab.sim"


def timestamp(moment: datetime) -> str:
    """GitLab's REST timestamp format, to the millisecond."""
    return gitlab_time(moment)


@dataclass
class State:
    """Everything the simulator knows; mutated only under the simulator's lock."""

    users: dict[int, dict[str, Any]] = field(default_factory=dict)
    tokens: dict[str, int] = field(default_factory=dict)
    groups: dict[int, dict[str, Any]] = field(default_factory=dict)
    projects: dict[int, dict[str, Any]] = field(default_factory=dict)
    labels: dict[int, dict[str, Any]] = field(default_factory=dict)
    milestones: dict[int, dict[str, Any]] = field(default_factory=dict)
    iterations: dict[int, dict[str, Any]] = field(default_factory=dict)
    cadences: dict[int, dict[str, Any]] = field(default_factory=dict)  # iteration cadences
    issues: dict[int, dict[str, Any]] = field(default_factory=dict)
    by_iid: dict[tuple[int, int], int] = field(default_factory=dict)
    notes: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    links: list[dict[str, Any]] = field(default_factory=list)
    releases: dict[tuple[int, str], dict[str, Any]] = field(default_factory=dict)
    hooks: dict[int, dict[str, Any]] = field(default_factory=dict)
    label_events: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    # ("project" | "group", id) -> user id -> {"access_level", "created_at", "expires_at"}
    members: dict[tuple[str, int], dict[int, dict[str, Any]]] = field(default_factory=dict)
    # ("Issue" | "Note", id) -> emoji awarded to it, oldest first (doc/api/emoji_reactions.md)
    awards: dict[tuple[str, int], list[dict[str, Any]]] = field(default_factory=dict)

    repos: dict[int, Repo] = field(default_factory=dict)  # by project id, made on first use
    commit_notes: dict[tuple[int, str], list[dict[str, Any]]] = field(default_factory=dict)
    commit_statuses: dict[int, dict[str, Any]] = field(default_factory=dict)
    pipelines: dict[tuple[int, str, str], int] = field(default_factory=dict)  # (pid, sha, ref)
    merge_requests: dict[int, dict[str, Any]] = field(default_factory=dict)
    mr_by_iid: dict[tuple[int, int], int] = field(default_factory=dict)
    mr_notes: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    # top-level group path -> its custom work item statuses (sim_statuses)
    custom_statuses: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    # top-level groups on GitLab Free (seed `plan: free`): no work item statuses
    free_namespaces: set[str] = field(default_factory=set)
    _next: dict[str, int] = field(default_factory=dict)

    def new_id(self, kind: str, wanted: int | None = None) -> int:
        """The next id of `kind`, or `wanted` (later ones are numbered after it)."""
        if wanted is not None:
            self._next[kind] = max(self._next.get(kind, 0), wanted)
            return wanted
        self._next[kind] = self._next.get(kind, 0) + 1
        return self._next[kind]

    # -- lookups ---------------------------------------------------------------

    def user_by_name(self, username: str) -> dict[str, Any] | None:
        return next((u for u in self.users.values() if u["username"] == username), None)

    def project(self, ref: str) -> dict[str, Any] | None:
        if ref.isdigit():
            return self.projects.get(int(ref))
        return next((p for p in self.projects.values() if p["path_with_namespace"] == ref), None)

    def group(self, ref: str) -> dict[str, Any] | None:
        if ref.isdigit():
            return self.groups.get(int(ref))
        return next((g for g in self.groups.values() if g["full_path"] == ref), None)

    def issue(self, project_id: int, iid: int) -> dict[str, Any] | None:
        issue_id = self.by_iid.get((project_id, iid))
        return self.issues.get(issue_id) if issue_id is not None else None

    def repo(self, project: dict[str, Any]) -> Repo:
        return self.repos.setdefault(project["id"], Repo())

    def merge_request(self, project_id: int, iid: int) -> dict[str, Any] | None:
        mid = self.mr_by_iid.get((project_id, iid))
        return self.merge_requests.get(mid) if mid is not None else None

    def project_group(self, project: dict[str, Any]) -> dict[str, Any] | None:
        return self.groups.get(project["namespace"]["id"])

    def ancestors(self, group: dict[str, Any] | None) -> list[dict[str, Any]]:
        """The group itself, then its parent, up to the top-level group."""
        chain: list[dict[str, Any]] = []
        while group is not None:
            chain.append(group)
            group = self.groups.get(group["parent_id"]) if group.get("parent_id") else None
        return chain

    def descendants(self, group: dict[str, Any]) -> list[dict[str, Any]]:
        """The group itself and every subgroup below it."""
        return [g for g in self.groups.values() if group in self.ancestors(g)]

    def group_ids_of(self, project: dict[str, Any]) -> set[int]:
        """The ids of the project's group and all its ancestor groups."""
        return {g["id"] for g in self.ancestors(self.project_group(project))}

    def projects_under(self, group: dict[str, Any]) -> list[dict[str, Any]]:
        """Projects in the group or any of its subgroups."""
        inside = {g["id"] for g in self.descendants(group)}
        return [p for p in self.projects.values() if p["namespace"]["id"] in inside]

    def label(self, title: str, project: dict[str, Any]) -> dict[str, Any] | None:
        groups = self.group_ids_of(project)
        for label in self.labels.values():
            if label["name"] == title and (
                label.get("project_id") == project["id"] or label.get("group_id") in groups
            ):
                return label
        return None

    def milestones_of(self, project: dict[str, Any]) -> list[dict[str, Any]]:
        """The project's milestones and those of its group and ancestor groups."""
        groups = self.group_ids_of(project)
        return [
            m
            for m in self.milestones.values()
            if m.get("project_id") == project["id"] or m.get("group_id") in groups
        ]

    # -- building --------------------------------------------------------------

    def add_user(
        self,
        username: str,
        name: str | None = None,
        token: str | None = None,
        uid: int | None = None,
    ) -> int:
        uid = self.new_id("user", uid)
        self.users[uid] = {
            "id": uid,
            "username": username,
            "name": name or username.title(),
            "state": "active",
            "locked": False,
            "avatar_url": None,
            "web_url": f"{BASE_URL}/{username}",
        }
        if token:
            self.tokens[token] = uid
        return uid

    def add_group(self, path: str, description: str = "", gid: int | None = None) -> int:
        """A group; `a/b` is subgroup `b` of group `a` (created first if missing)."""
        existing = self.group(path)
        if existing is not None:
            return int(existing["id"])
        parent_path, _, name = path.rpartition("/")
        parent = self.groups[self.add_group(parent_path)] if parent_path else None
        gid = self.new_id("group", gid)
        self.groups[gid] = {
            "id": gid,
            "name": name,
            "path": name,
            "description": description,
            "visibility": "private",
            "full_name": f"{parent['full_name']} / {name}" if parent else name,
            "full_path": path,
            "parent_id": parent["id"] if parent else None,
            "web_url": f"{BASE_URL}/groups/{path}",
            "avatar_url": None,
            "created_at": "2026-01-01T00:00:00.000Z",
        }
        return gid

    def add_project(self, path: str, pid: int | None = None) -> int:
        namespace, _, name = path.rpartition("/")
        group = self.groups[self.add_group(namespace)] if namespace else None
        pid = self.new_id("project", pid)
        self.projects[pid] = {
            "id": pid,
            "description": "",
            "name": name,
            "name_with_namespace": path.replace("/", " / "),
            "path": name,
            "path_with_namespace": path,
            "created_at": "2026-01-01T00:00:00.000Z",
            "default_branch": "main",
            "tag_list": [],
            "topics": [],
            "ssh_url_to_repo": f"git@gitlab.sim:{path}.git",
            "http_url_to_repo": f"{BASE_URL}/{path}.git",
            "web_url": f"{BASE_URL}/{path}",
            "readme_url": None,
            "avatar_url": None,
            "forks_count": 0,
            "star_count": 0,
            "last_activity_at": "2026-01-01T00:00:00.000Z",
            "visibility": "private",
            "namespace": {
                "id": group["id"] if group else 0,
                "name": group["name"] if group else "",
                "path": group["path"] if group else "",
                "kind": "group",
                "full_path": namespace,
                "parent_id": group["parent_id"] if group else None,
                "avatar_url": None,
                "web_url": group["web_url"] if group else BASE_URL,
            },
        }
        return pid
