"""The simulator's data: users, groups, projects, labels, milestones, issues, notes, hooks.

Seed file format (YAML), every section optional; dates may be ISO dates or offsets from
today such as '-14d' or '+3d':

    users:      [{username: alice, name: Alice, token: alice-token, read_only: false}]
    groups:     [{path: demo}]
    projects:   [{path: demo/product}]
    labels:     [{group: demo, title: "health::at risk", color: "#d9534f"}]
    milestones: [{group: demo, title: Sprint 3, start_date: -7d, due_date: +7d}]
    iterations: [{group: demo, title: Iteration 5, start_date: +7d, due_date: +21d}]
    issues:     [{project: demo/product, title: Landing page, labels: [..], milestone: Sprint 3,
                  assignees: [alice], author: bob, due_date: +2d, state: opened}]
    releases:   [{project: demo/product, tag: v1.0, name: "1.0", milestones: [Sprint 3]}]

Users, groups, projects, milestones and issues may also give their `id` (milestones and
issues their `iid` too), so a recorded webhook payload's ids name the seeded objects;
without one, ids are numbered in order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from hooks.reconcile_events import gitlab_time

_OFFSET = re.compile(r"^([+-])(\d+)([dw])$")
BASE_URL = "http://gitlab.sim"


def when(value: Any, today: date) -> str | None:
    """A seed date ('2026-11-23', '+3d', '-2w') as an ISO date string."""
    if value in (None, ""):
        return None
    if isinstance(value, date):
        return value.isoformat()
    match = _OFFSET.match(str(value))
    if match:
        days = int(match.group(2)) * (7 if match.group(3) == "w" else 1)
        return (today + timedelta(days=days if match.group(1) == "+" else -days)).isoformat()
    return date.fromisoformat(str(value)).isoformat()


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
    issues: dict[int, dict[str, Any]] = field(default_factory=dict)
    by_iid: dict[tuple[int, int], int] = field(default_factory=dict)
    notes: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    links: list[dict[str, Any]] = field(default_factory=list)
    releases: dict[tuple[int, str], dict[str, Any]] = field(default_factory=dict)
    hooks: dict[int, dict[str, Any]] = field(default_factory=dict)
    label_events: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
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

    def project_group(self, project: dict[str, Any]) -> dict[str, Any] | None:
        return self.groups.get(project["namespace"]["id"])

    def label(self, title: str, project: dict[str, Any]) -> dict[str, Any] | None:
        group = self.project_group(project)
        for label in self.labels.values():
            if label["name"] == title and (
                label.get("project_id") == project["id"]
                or (group and label.get("group_id") == group["id"])
            ):
                return label
        return None

    def milestones_of(self, project: dict[str, Any]) -> list[dict[str, Any]]:
        group = self.project_group(project)
        return [
            m
            for m in self.milestones.values()
            if m.get("project_id") == project["id"]
            or (group is not None and m.get("group_id") == group["id"])
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
            "avatar_url": None,
            "web_url": f"{BASE_URL}/{username}",
        }
        if token:
            self.tokens[token] = uid
        return uid

    def add_group(self, path: str, gid: int | None = None) -> int:
        gid = self.new_id("group", gid)
        self.groups[gid] = {
            "id": gid,
            "name": path.rsplit("/", 1)[-1],
            "path": path.rsplit("/", 1)[-1],
            "full_path": path,
            "full_name": path,
            "web_url": f"{BASE_URL}/groups/{path}",
            "visibility": "private",
        }
        return gid

    def add_project(self, path: str, pid: int | None = None) -> int:
        namespace, _, name = path.rpartition("/")
        group = self.group(namespace) if namespace else None
        if group is None and namespace:
            group = self.groups[self.add_group(namespace)]
        pid = self.new_id("project", pid)
        self.projects[pid] = {
            "id": pid,
            "name": name,
            "path": name,
            "path_with_namespace": path,
            "name_with_namespace": path.replace("/", " / "),
            "description": "",
            "default_branch": "main",
            "visibility": "private",
            "web_url": f"{BASE_URL}/{path}",
            "namespace": {
                "id": group["id"] if group else 0,
                "name": group["name"] if group else "",
                "path": group["path"] if group else "",
                "kind": "group",
                "full_path": namespace,
            },
        }
        return pid


def demo_seed(today: date) -> dict[str, Any]:
    """The built-in demo: a small team planning in two-week sprints."""
    sprint = [
        ("Sprint 41", -21, -8, "closed"),
        ("Sprint 42", -7, 6, "active"),
        ("Sprint 43", 7, 20, "active"),
    ]
    labels = [
        ("health::on track", "#009966"),
        ("health::needs attention", "#f0ad4e"),
        ("health::at risk", "#d9534f"),
        ("blocked", "#cc0033"),
        ("in review", "#428bca"),
        ("release-priority", "#6699cc"),
        ("maturity::viable", "#8fbc8f"),
        ("release", "#5843ad"),
        ("case-study", "#ad4363"),
        ("deprioritized", "#999999"),
        ("superseded", "#999999"),
        ("feature", "#69d100"),
        ("area::ci", "#7f8c8d"),
        ("area::plan", "#7f8c8d"),
    ]
    issue_specs = [
        (
            "Write the CI/CD feature overview",
            ["feature", "area::ci"],
            "Sprint 42",
            ["alice"],
            "+4d",
        ),
        ("Refresh the competitive comparison", ["area::plan"], "Sprint 42", ["bob"], "+2d"),
        ("Pricing page copy", ["blocked"], "Sprint 42", ["carol"], "+5d"),
        ("Analyst briefing deck", [], "Sprint 42", [], "-1d"),
        ("Webinar follow-up email", ["in review"], "Sprint 42", ["dave"], "+1d"),
        ("Customer quote approvals", [], "Sprint 42", ["alice"], "+6d"),
        ("Sales enablement session", ["area::ci"], "Sprint 42", ["bob"], None),
        ("Launch blog post draft", ["feature"], "Sprint 43", ["carol"], "+10d"),
        ("Update /direction page", [], "Sprint 43", [], "+12d"),
        ("Old campaign cleanup", ["deprioritized"], "Sprint 41", ["dave"], "-9d"),
        ("Value drivers refresh", [], "Sprint 41", ["alice"], "-10d"),
        ("Handbook page for the new feature", [], None, [], None),
    ]
    return {
        "users": [
            {"username": "hooks-bot", "name": "Hooks Bot", "token": "sim-token"},
            {"username": "alice", "name": "Alice PMM", "token": "alice-token"},
            {"username": "bob", "name": "Bob Developer", "token": "bob-token"},
            {"username": "carol", "name": "Carol PMM", "token": "carol-token"},
            {"username": "dave", "name": "Dave Organiser", "token": "dave-token"},
        ],
        "groups": [{"path": "demo"}],
        "projects": [
            {"path": "demo/product"},
            {"path": "demo/marketing"},
            {"path": "demo/training"},
        ],
        "labels": [{"group": "demo", "title": t, "color": c} for t, c in labels],
        "milestones": [
            {
                "group": "demo",
                "title": title,
                "start_date": f"{start:+d}d",
                "due_date": f"{due:+d}d",
                "state": state,
            }
            for title, start, due, state in sprint
        ],
        "iterations": [
            {"group": "demo", "title": "Iteration 42", "start_date": "-7d", "due_date": "+6d"},
            {"group": "demo", "title": "Iteration 43", "start_date": "+7d", "due_date": "+20d"},
        ],
        "issues": [
            {
                "project": "demo/product" if i % 3 else "demo/marketing",
                "title": title,
                "labels": lbls,
                "milestone": ms,
                "assignees": who,
                "author": "bob",
                "due_date": due,
                "state": "opened",
            }
            for i, (title, lbls, ms, who, due) in enumerate(issue_specs)
        ],
        "releases": [],
    }
