"""The REST shapes of what the simulated GitLab holds: users, milestones, issues (as
API::Entities::Issue and IssueBasic answer them), labels as an issue lists them.

The bottom of the simulator's core: `SimHookPayloads`, `SimChanges` and `SimCore` build on it.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from hooks.testing.sim_state import BASE_URL, State


class SimShapes:
    """The REST shapes of the state's objects."""

    state: State
    today: date

    def user_rest(self, uid: int | None) -> dict[str, Any] | None:
        user = self.state.users.get(uid) if uid is not None else None
        hidden = ("read_only", "token_expires_at", "no_access")
        return {k: v for k, v in user.items() if k not in hidden} if user else None

    def milestone_rest(self, m: dict[str, Any]) -> dict[str, Any]:
        rest = {k: v for k, v in m.items() if v is not None or k in ("start_date", "due_date")}
        rest["expired"] = bool(m["due_date"] and date.fromisoformat(m["due_date"]) < self.today)
        return rest

    def issue_rest(
        self,
        issue: dict[str, Any],
        *,
        scope: dict[str, Any] | None = None,
        label_details: bool = False,
        basic: bool = False,
    ) -> dict[str, Any]:
        """An issue as GitLab's REST API answers it (doc/api/issues.md, API::Entities::Issue).
        `scope` is the project or group the request named (for `references.relative`);
        `label_details` answers labels as objects, as `with_labels_details=true` asks; `basic`
        is API::Entities::IssueBasic (milestone issues, issue link ends)."""
        s = self.state
        project = s.projects[issue["project_id"]]
        path = project["path_with_namespace"]
        milestone = s.milestones.get(issue["milestone_id"]) if issue["milestone_id"] else None
        iteration = s.iterations.get(issue["iteration_id"]) if issue["iteration_id"] else None
        assignees = [self.user_rest(u) for u in issue["assignee_ids"]]
        api = f"{BASE_URL}/api/v4/projects/{project['id']}"
        if scope is not None and scope.get("id") == project["id"] and "namespace" in scope:
            relative = f"#{issue['iid']}"
        elif scope is not None and path.startswith(f"{scope.get('full_path')}/"):
            relative = f"{path.removeprefix(scope['full_path'] + '/')}#{issue['iid']}"
        else:
            relative = f"{path}#{issue['iid']}"
        tasks = _TASK.findall(issue["description"] or "")
        done = sum(1 for mark in tasks if mark.lower() == "x")
        labels: list[Any] = sorted(issue["labels"])  # GitLab answers them sorted by title
        if label_details:
            labels = [self.label_detail(t, project) for t in sorted(issue["labels"])]
        rest = {
            "id": issue["id"],
            "iid": issue["iid"],
            "project_id": issue["project_id"],
            "title": issue["title"],
            "description": issue["description"],
            "state": issue["state"],
            "created_at": issue["created_at"],
            "updated_at": issue["updated_at"],
            "closed_at": issue["closed_at"],
            "closed_by": self.user_rest(issue.get("closed_by_id")),
            "labels": labels,
            "milestone": self.milestone_rest(milestone) if milestone else None,
            "assignees": assignees,
            "assignee": assignees[0] if assignees else None,
            "author": self.user_rest(issue["author_id"]),
            "type": issue.get("issue_type", "issue").upper(),
            "issue_type": issue.get("issue_type", "issue"),
            "user_notes_count": len(s.notes.get(issue["id"], [])),
            "merge_requests_count": 0,
            "upvotes": 0,
            "downvotes": 0,
            "due_date": issue["due_date"],
            "confidential": issue["confidential"],
            "discussion_locked": None,
            "web_url": f"{project['web_url']}/-/issues/{issue['iid']}",
            "time_stats": {
                "time_estimate": 0,
                "total_time_spent": 0,
                "human_time_estimate": None,
                "human_total_time_spent": None,
            },
            "task_completion_status": {"count": len(tasks), "completed_count": done},
            "has_tasks": bool(tasks),
            "task_status": f"{done} of {len(tasks)} tasks completed",
            "_links": {
                "self": f"{api}/issues/{issue['iid']}",
                "notes": f"{api}/issues/{issue['iid']}/notes",
                "award_emoji": f"{api}/issues/{issue['iid']}/award_emoji",
                "project": api,
                "closed_as_duplicate_of": None,
            },
            "references": {
                "short": f"#{issue['iid']}",
                "relative": relative,
                "full": f"{path}#{issue['iid']}",
            },
            "severity": "UNKNOWN",
            "moved_to_id": None,
            "imported": False,
            "imported_from": "none",
            "service_desk_reply_to": None,
            "blocking_issues_count": sum(
                1
                for link in s.links
                if (link["source"] == issue["id"] and link["link_type"] == "blocks")
                or (link["target"] == issue["id"] and link["link_type"] == "is_blocked_by")
            ),
            "health_status": issue["health_status"],
            "iteration": dict(iteration) if iteration else None,
            "weight": None,
            "epic_iid": None,
            "epic": None,
        }
        if not tasks:  # API::Entities::Issue exposes task_status only with tasks
            del rest["task_status"]
        if basic:
            for key in _ISSUE_ONLY:
                rest.pop(key, None)
        return rest

    def label_detail(self, title: str, project: dict[str, Any]) -> dict[str, Any]:
        """A label as `with_labels_details=true` lists it on an issue."""
        label = self.state.label(title, project)
        color = label["color"] if label else "#6699cc"
        description = label.get("description") if label else None
        return {
            "id": label["id"] if label else 0,
            "name": title,
            "color": color,
            "description": description,
            "description_html": description or "",
            "text_color": text_color(color),
        }

    def _label_object(self, title: str, project: dict[str, Any]) -> dict[str, Any]:
        label = self.state.label(title, project)
        return {
            "id": label["id"] if label else 0,
            "title": title,
            "color": label["color"] if label else "#6699cc",
            "project_id": label.get("project_id") if label else project["id"],
            "created_at": "2026-01-01T00:00:00Z",
            "updated_at": "2026-01-01T00:00:00Z",
            "template": False,
            "description": label.get("description") if label else None,
            "type": "GroupLabel" if label and label.get("group_id") else "ProjectLabel",
            "group_id": label.get("group_id") if label else None,
        }


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


# What API::Entities::Issue adds to IssueBasic (lib/api/entities/issue.rb).
_ISSUE_ONLY = (
    "has_tasks",
    "task_status",
    "_links",
    "references",
    "severity",
    "moved_to_id",
    "imported",
    "imported_from",
    "service_desk_reply_to",
)
_TASK = re.compile(r"^\s*(?:[-*+]|\d+\.)\s+\[([ xX])\]", re.MULTILINE)
