"""The simulator's data: users, groups, projects, labels, milestones, issues, notes, hooks.

Seed file format (YAML), every section optional; dates may be ISO dates or offsets from
today such as '-14d' or '+3d':

    users:      [{username: alice, name: Alice, token: alice-token, read_only: false}]
    groups:     [{path: demo, description: ""}, {path: demo/web}]  # a/b: subgroup b of a
    projects:   [{path: demo/product, description: ""}, {path: demo/web/site}]
    labels:     [{group: demo, title: "health::at risk", color: "#d9534f"},
                 {project: demo/product, title: bug, description: "", priority: 1}]
    milestones: [{group: demo, title: Sprint 3, start_date: -7d, due_date: +7d},
                 {group: demo/web, title: Sprint 3, ...},    # same title, another owner
                 {project: demo/product, title: v1.0, state: closed, description: ""}]
                # as in GitLab, a title may repeat across owners but not within a project
                # and its direct group (such a seed is refused)
    iterations: [{group: demo, title: Iteration 5, start_date: +7d, due_date: +21d}]
    issues:     [{project: demo/product, title: Landing page, labels: [..], milestone: Sprint 3,
                  assignees: [alice], author: bob, due_date: +2d, state: opened}]
                # `milestone` is the nearest milestone with that title (the project's, its
                # group's, then the ancestors'); `milestone_owner: demo` picks another owner's
    releases:   [{project: demo/product, tag: v1.0, name: "1.0", description: "",
                  released_at: "2026-11-02T12:00:00.000Z", milestones: [Sprint 3]}]

Users, groups, projects, milestones and issues may also give their `id` (milestones and
issues their `iid` too), so a recorded webhook payload's ids name the seeded objects;
without one, ids are numbered in order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from hooks.catchup.reconcile_events import gitlab_time

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


def hook_time(value: str | None) -> str | None:
    """A REST timestamp ('2026-01-02T03:04:05.000Z') as webhooks write it ('... UTC')."""
    if not value:
        return value
    return value.replace("T", " ")[:19] + " UTC"


def text_color(color: str) -> str:
    """GitLab's label text colour: dark on light backgrounds (LabelsHelper.text_color_for_bg)."""
    hexa = color.lstrip("#")
    if len(hexa) == 3:
        hexa = "".join(c * 2 for c in hexa)
    try:
        r, g, b = (int(hexa[i : i + 2], 16) for i in (0, 2, 4))
    except ValueError:
        return "#FFFFFF"
    return "#333333" if r + g + b > 500 else "#FFFFFF"


def to_seed(s: State) -> dict[str, Any]:
    """The state in the seed format (see the module docstring)."""
    inverse = {uid: t for t, uid in s.tokens.items()}

    def owner(item: dict[str, Any]) -> dict[str, str]:
        if item.get("group_id"):
            return {"group": s.groups[item["group_id"]]["full_path"]}
        if item.get("project_id"):
            return {"project": s.projects[item["project_id"]]["path_with_namespace"]}
        return {}

    return {
        "users": [
            {
                "username": u["username"],
                "name": u["name"],
                "token": inverse.get(uid),
                **({"read_only": True} if u.get("read_only") else {}),
            }
            for uid, u in s.users.items()
        ],
        "groups": [
            {"path": g["full_path"], "description": g["description"]} for g in s.groups.values()
        ],
        "projects": [
            {"path": p["path_with_namespace"], "description": p["description"]}
            for p in s.projects.values()
        ],
        "labels": [
            {
                "title": lbl["name"],
                "color": lbl["color"],
                "description": lbl["description"],
                "priority": lbl.get("priority"),
                **owner(lbl),
            }
            for lbl in s.labels.values()
        ],
        "milestones": [
            {
                "title": m["title"],
                "description": m["description"],
                "state": m["state"],
                "start_date": m["start_date"],
                "due_date": m["due_date"],
                **owner(m),
            }
            for m in s.milestones.values()
        ],
        "iterations": [
            {
                "title": i["title"],
                "start_date": i["start_date"],
                "due_date": i["due_date"],
                **owner(i),
            }
            for i in s.iterations.values()
        ],
        "issues": [
            {
                "project": s.projects[i["project_id"]]["path_with_namespace"],
                "title": i["title"],
                "description": i["description"],
                "labels": list(i["labels"]),
                "milestone": s.milestones[i["milestone_id"]]["title"]
                if i["milestone_id"]
                else None,
                **(
                    {"milestone_owner": next(iter(owner(s.milestones[i["milestone_id"]]).values()))}
                    if i["milestone_id"]
                    else {}
                ),
                "assignees": [s.users[a]["username"] for a in i["assignee_ids"]],
                "author": s.users[i["author_id"]]["username"],
                "due_date": i["due_date"],
                "state": i["state"],
                "confidential": i["confidential"],
            }
            for i in s.issues.values()
        ],
        "releases": [
            {
                "project": s.projects[r["project_id"]]["path_with_namespace"],
                "tag": r["tag_name"],
                "name": r["name"],
                "description": r["description"],
                "released_at": r["released_at"],
                "milestones": [
                    s.milestones[mid]["title"] for mid in r["milestone_ids"] if mid in s.milestones
                ],
            }
            for r in s.releases.values()
        ],
    }
