"""The seed: the format a simulator is loaded from and dumped to (`Simulator.load`, `to_seed`).

Seed file format (YAML), every section optional; dates may be ISO dates or offsets from
today such as '-14d' or '+3d':

    users:      [{username: alice, name: Alice, token: alice-token, read_only: false,
                  token_expires_at: +30d,    # absent: the token never expires
                  no_access: [team/rules]}]  # projects it cannot read (404, as GitLab)
    groups:     [{path: demo, description: ""}, {path: demo/web}]  # a/b: subgroup b of a
                # plan: free on a top-level group: no work item statuses (Premium feature)
    projects:   [{path: demo/product, description: ""}, {path: demo/web/site},
                 {path: team/rules, default_branch: master}]   # default: main
    labels:     [{group: demo, title: "health::at risk", color: "#d9534f"},
                 {project: demo/product, title: bug, description: "", priority: 1}]
    milestones: [{group: demo, title: Sprint 3, start_date: -7d, due_date: +7d},
                 {group: demo/web, title: Sprint 3, ...},    # same title, another owner
                 {project: demo/product, title: v1.0, state: closed, description: ""}]
                # as in GitLab, a title may repeat across owners but not within a project
                # and its direct group (such a seed is refused)
    iterations: [{group: demo, title: Iteration 5, start_date: +7d, due_date: +21d,
                  cadence: Team A, id: 5}]   # cadence: that group's cadence of this title
                # (made on first use); automatic cadences' iterations have no title
    statuses:   [{group: demo, name: Blocked, category: in_progress, color: "#e9be74"}]
                # custom work item statuses of a top-level group (they replace GitLab's
                # five defaults there); categories triage, to_do, in_progress, done, canceled
    issues:     [{project: demo/product, title: Landing page, labels: [..], milestone: Sprint 3,
                  assignees: [alice], author: bob, due_date: +2d, state: opened,
                  status: In progress}]   # status: a name the namespace allows
                # `milestone` is the nearest milestone with that title (the project's, its
                # group's, then the ancestors'); `iteration: ID`; `type: task` and
                # `parent: IID` (an issue of the same project seeded before it) for a child
                # task; `milestone_owner: demo` picks another owner's
    members:    [{project: demo/product, user: alice, access_level: developer},
                 {group: demo, user: bob, access_level: 40}]   # a role name or 10/20/30/40/50
    releases:   [{project: demo/product, tag: v1.0, name: "1.0", description: "",
                  released_at: "2026-11-02T12:00:00.000Z", milestones: [Sprint 3]}]
    repositories: [{project: team/rules, branch: main, files: {README.md: "..."},
                  from_dir: ./rules, prefix: rules, message: "Add the rules"}]
                # one commit per entry; the branch (default: the project's default branch,
                # `main`) then holds exactly `files` plus the files under `from_dir` (placed
                # under `prefix`); a new branch starts from the default branch

Users, groups, projects, milestones and issues may also give their `id` (milestones and
issues their `iid` too), so a recorded webhook payload's ids name the seeded objects;
without one, ids are numbered in order.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

from hooks.testing.sim_state import State

_OFFSET = re.compile(r"^([+-])(\d+)([dw])$")


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
                **(
                    {"token_expires_at": u["token_expires_at"]} if u.get("token_expires_at") else {}
                ),
                **({"no_access": list(u["no_access"])} if u.get("no_access") else {}),
            }
            for uid, u in s.users.items()
        ],
        "groups": [
            {
                "path": g["full_path"],
                "description": g["description"],
                **({"plan": "free"} if g["full_path"] in s.free_namespaces else {}),
            }
            for g in s.groups.values()
        ],
        "projects": [
            {
                "path": p["path_with_namespace"],
                "description": p["description"],
                **(
                    {"default_branch": p["default_branch"]} if p["default_branch"] != "main" else {}
                ),
            }
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
        "statuses": [
            {"group": root, **{k: c[k] for k in ("name", "category", "color", "description")}}
            for root, custom in s.custom_statuses.items()
            for c in custom
        ],
        "iterations": [
            {
                "id": i["id"],
                "title": i["title"],
                "start_date": i["start_date"],
                "due_date": i["due_date"],
                **owner(i),
                **(
                    {"cadence": s.cadences[i["cadence_id"]]["title"]} if i.get("cadence_id") else {}
                ),
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
                **({"iteration": i["iteration_id"]} if i.get("iteration_id") else {}),
                **({"type": i["issue_type"]} if i.get("issue_type", "issue") != "issue" else {}),
                **({"parent": s.issues[i["parent_id"]]["iid"]} if i.get("parent_id") else {}),
                **({"status": _status_name(s, i["status_id"])} if i.get("status_id") else {}),
            }
            for i in s.issues.values()
        ],
        "members": dump_members(s),
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
        "repositories": _repositories(s),
    }


def dump_members(s: State) -> list[dict[str, Any]]:
    """The seed's `members:` section (direct memberships of projects and groups)."""
    found = []
    for (kind, sid), members in s.members.items():
        owner = s.groups[sid]["full_path"] if kind == "group" else None
        path = owner or s.projects[sid]["path_with_namespace"]
        for uid, m in members.items():
            found.append(
                {kind: path, "user": s.users[uid]["username"], "access_level": m["access_level"]}
            )
    return found


def _repositories(s: State) -> list[dict[str, Any]]:
    """Each branch's files, the default branch first (history is not kept)."""
    found: list[dict[str, Any]] = []
    for pid, repo in s.repos.items():
        project = s.projects[pid]
        default = project["default_branch"]
        for name in sorted(repo.branches, key=lambda b: (b != default, b)):
            files: dict[str, str | bytes] = {}
            for path, blob in repo.commits[repo.branches[name]].files.items():
                try:
                    files[path] = repo.blobs[blob].decode()
                except UnicodeDecodeError:
                    files[path] = repo.blobs[blob]
            entry = {"project": project["path_with_namespace"], "branch": name, "files": files}
            found.append(entry)
    return found


def _status_name(s: State, gid: str) -> str:
    """A status's name by its global id (custom ones from the state, else GitLab's five)."""
    kind, _, number = gid.rpartition("/")
    if "Custom" in kind:
        found = [
            c for custom in s.custom_statuses.values() for c in custom if c["id"] == int(number)
        ]
        return str(found[0]["name"]) if found else number
    system = ("To do", "In progress", "Done", "Won't do", "Duplicate")
    return system[int(number) - 1]
