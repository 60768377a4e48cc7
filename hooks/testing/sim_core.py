"""The simulated GitLab's core: its state, the REST and webhook shapes of what it holds, and
the changes that send webhooks. Route modules (`sim_rest`, `sim_issues`, ...) work on it;
`simulator.py` loads a seed into it and serves it (the routes never import that assembly).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from hooks.events import MILESTONE_HOOK_FIELDS
from hooks.testing.sim_faults import Faults, RequestRecord
from hooks.testing.sim_state import (
    BASE_URL,
    State,
    hook_time,
    text_color,
    timestamp,
    to_seed,
    when,
)
from hooks.testing.sim_webhooks import WebhookSender


class SimCore:
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

    def _add_label(self, spec: dict[str, Any]) -> dict[str, Any]:
        s = self.state
        lid = s.new_id("label")
        group = s.group(spec["group"]) if spec.get("group") else None
        project = s.project(spec["project"]) if spec.get("project") else None
        label = {
            "id": lid,
            "name": spec["title"],
            "color": spec.get("color", "#6699cc"),
            "description": spec.get("description"),
            "group_id": group["id"] if group else None,
            "project_id": project["id"] if project else None,
            "priority": int(spec["priority"]) if spec.get("priority") not in (None, "") else None,
        }
        s.labels[lid] = label
        return label

    def _add_milestone(self, spec: dict[str, Any], today: date) -> dict[str, Any]:
        s = self.state
        mid = s.new_id("milestone", spec.get("id"))
        group = s.group(spec["group"]) if spec.get("group") else None
        project = s.project(spec["project"]) if spec.get("project") else None
        owner = group or project
        assert owner is not None, "a milestone needs a group or a project"
        key = f"miid:{'g' if group else 'p'}{owner['id']}"
        iid = s.new_id(key, spec.get("iid"))
        path = group["full_path"] if group else project["path_with_namespace"]  # type: ignore[index]
        stamp = timestamp(self.now())
        milestone = {
            "id": mid,
            "iid": iid,
            "group_id": group["id"] if group else None,
            "project_id": project["id"] if project else None,
            "title": spec["title"],
            "description": spec.get("description", ""),
            "state": spec.get("state", "active"),
            "start_date": when(spec.get("start_date"), today),
            "due_date": when(spec.get("due_date"), today),
            "created_at": stamp,
            "updated_at": stamp,
            "web_url": f"{BASE_URL}/{'groups/' if group else ''}{path}/-/milestones/{iid}",
        }
        s.milestones[mid] = milestone
        return milestone

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

    # -- REST shapes -----------------------------------------------------------

    def user_rest(self, uid: int | None) -> dict[str, Any] | None:
        user = self.state.users.get(uid) if uid is not None else None
        return {k: v for k, v in user.items() if k != "read_only"} if user else None

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
            "type": "ISSUE",
            "issue_type": "issue",
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

    def project_hook_payload(self, project: dict[str, Any]) -> dict[str, Any]:
        path = project["path_with_namespace"]
        return {
            "id": project["id"],
            "name": project["name"],
            "description": project["description"],
            "web_url": project["web_url"],
            "avatar_url": None,
            "git_ssh_url": f"git@gitlab.sim:{path}.git",
            "git_http_url": f"{project['web_url']}.git",
            "namespace": project["namespace"]["name"],
            "visibility_level": 0,
            "path_with_namespace": path,
            "default_branch": "main",
            "ci_config_path": None,
            "homepage": project["web_url"],
            "url": f"git@gitlab.sim:{path}.git",
            "ssh_url": f"git@gitlab.sim:{path}.git",
            "http_url": f"{project['web_url']}.git",
        }

    # -- changes ---------------------------------------------------------------

    def hooks_for(self, project: dict[str, Any]) -> list[dict[str, Any]]:
        """The project's hooks and those of its group and ancestor groups."""
        groups = self.state.group_ids_of(project)
        return [
            h
            for h in self.state.hooks.values()
            if h.get("project_id") == project["id"] or h.get("group_id") in groups
        ]

    def group_hooks(self, group: dict[str, Any]) -> list[dict[str, Any]]:
        """The hooks of a group and of its ancestor groups."""
        groups = {g["id"] for g in self.state.ancestors(group)}
        return [h for h in self.state.hooks.values() if h.get("group_id") in groups]

    def create_issue(
        self,
        project: dict[str, Any],
        fields: dict[str, Any],
        *,
        author_id: int,
        event_uuid: str | None = None,
        notify: bool = True,
        iid: int | None = None,
        issue_id: int | None = None,
    ) -> dict[str, Any]:
        s = self.state
        iid = s.new_id("iid:" + str(project["id"]), iid)
        issue_id = s.new_id("issue", issue_id)
        stamp = timestamp(self.now())
        issue = {
            "id": issue_id,
            "iid": iid,
            "project_id": project["id"],
            "title": fields["title"],
            "description": fields.get("description") or "",
            "state": "opened",
            "labels": _unique(fields.get("labels") or []),
            "milestone_id": fields.get("milestone_id") or None,
            "assignee_ids": list(fields.get("assignee_ids") or []),
            "author_id": author_id,
            "due_date": fields.get("due_date") or None,
            "confidential": bool(fields.get("confidential")),
            "created_at": stamp,
            "updated_at": stamp,
            "closed_at": None,
            "health_status": None,
            "iteration_id": None,
        }
        for title in issue["labels"]:
            if s.label(title, project) is None:
                self._add_label({"project": project["path_with_namespace"], "title": title})
        s.issues[issue_id] = issue
        s.by_iid[(project["id"], iid)] = issue_id
        s.notes[issue_id] = []
        s.label_events[issue_id] = [
            self._label_event(issue, t, "add", author_id) for t in issue["labels"]
        ]
        if notify:
            self._issue_hook(issue, "open", {}, author_id, event_uuid)
        return issue

    def update_issue(
        self,
        issue: dict[str, Any],
        changes: dict[str, Any],
        *,
        actor_id: int,
        event_uuid: str | None = None,
    ) -> dict[str, Any]:
        """Apply field changes; one webhook describing what really changed."""
        s = self.state
        project = s.projects[issue["project_id"]]
        before = {k: (list(v) if isinstance(v, list) else v) for k, v in issue.items()}
        for key, value in changes.items():
            issue[key] = value
        if "labels" in changes:
            issue["labels"] = _unique(issue["labels"])
            for title in issue["labels"]:
                if s.label(title, project) is None:
                    self._add_label({"project": project["path_with_namespace"], "title": title})
        changed = {k for k in changes if before.get(k) != issue.get(k)}
        if not changed:
            return issue
        issue["updated_at"] = timestamp(self.now())
        action = "update"
        if "state" in changed:
            action = "close" if issue["state"] == "closed" else "reopen"
            closed = issue["state"] == "closed"
            issue["closed_at"] = issue["updated_at"] if closed else None
            issue["closed_by_id"] = actor_id if closed else None
        if "labels" in changed:
            old, new = before["labels"], issue["labels"]
            events = s.label_events.setdefault(issue["id"], [])
            events += [self._label_event(issue, t, "add", actor_id) for t in new if t not in old]
            events += [self._label_event(issue, t, "remove", actor_id) for t in old if t not in new]
        hook_changes: dict[str, Any] = {}
        for key in sorted(changed):
            previous: Any = before.get(key)
            current: Any = issue.get(key)
            if key == "labels":
                previous = [self._label_object(t, project) for t in previous or []]
                current = [self._label_object(t, project) for t in current or []]
            hook_changes[key] = {"previous": previous, "current": current}
        hook_changes["updated_at"] = {
            "previous": before["updated_at"],
            "current": issue["updated_at"],
        }
        hook_changes["updated_by_id"] = {"previous": None, "current": actor_id}
        self._issue_hook(issue, action, hook_changes, actor_id, event_uuid)
        return issue

    def _label_event(
        self, issue: dict[str, Any], title: str, action: str, actor_id: int
    ) -> dict[str, Any]:
        project = self.state.projects[issue["project_id"]]
        label = self._label_object(title, project)
        return {
            "id": self.state.new_id("label_event"),
            "user": self.user_rest(actor_id),
            "created_at": timestamp(self.now()),
            "resource_type": "Issue",
            "resource_id": issue["id"],
            "label": {
                "id": label["id"],
                "name": title,
                "color": label["color"],
                "description": None,
            },
            "action": action,
        }

    def _issue_hook(
        self,
        issue: dict[str, Any],
        action: str,
        changes: dict[str, Any],
        actor_id: int,
        event_uuid: str | None,
    ) -> None:
        header, payload = self.issue_hook_payload(issue, action, changes, actor_id)
        project = self.state.projects[issue["project_id"]]
        self.webhooks.emit(self.hooks_for(project), header, payload, event_uuid)

    def issue_hook_payload(
        self, issue: dict[str, Any], action: str, changes: dict[str, Any], actor_id: int
    ) -> tuple[str, dict[str, Any]]:
        """(X-Gitlab-Event, payload) of an issue event, as webhook_events.md shows it."""
        project = self.state.projects[issue["project_id"]]
        labels = [self._label_object(t, project) for t in issue["labels"]]
        actor = self.user_rest(actor_id) or {}
        assignees = [
            {"name": u["name"], "username": u["username"], "avatar_url": None}
            for u in (self.user_rest(i) for i in issue["assignee_ids"])
            if u
        ]
        confidential = issue["confidential"]
        attrs = {
            "id": issue["id"],
            "iid": issue["iid"],
            "title": issue["title"],
            "description": issue["description"],
            "assignee_ids": list(issue["assignee_ids"]),
            "assignee_id": issue["assignee_ids"][0] if issue["assignee_ids"] else None,
            "author_id": issue["author_id"],
            "project_id": project["id"],
            "created_at": issue["created_at"].replace("T", " ").replace("Z", " UTC")[:19] + " UTC",
            "updated_at": issue["updated_at"].replace("T", " ")[:19] + " UTC",
            "updated_by_id": actor_id,
            "last_edited_at": None,
            "last_edited_by_id": None,
            "relative_position": None,
            "milestone_id": issue["milestone_id"],
            "state_id": 1 if issue["state"] == "opened" else 2,
            "confidential": confidential,
            "discussion_locked": None,
            "due_date": issue["due_date"],
            "moved_to_id": None,
            "duplicated_to_id": None,
            "time_estimate": 0,
            "total_time_spent": 0,
            "time_change": 0,
            "human_total_time_spent": None,
            "human_time_estimate": None,
            "human_time_change": None,
            "weight": None,
            "health_status": issue["health_status"],
            "type": "Issue",
            "url": f"{project['web_url']}/-/issues/{issue['iid']}",
            "state": issue["state"],
            "action": action,
            "severity": "unknown",
            "escalation_status": None,
            "escalation_policy": None,
            "labels": labels,
        }
        payload = {
            "object_kind": "issue",
            "event_type": "confidential_issue" if confidential else "issue",
            "user": {
                "id": actor.get("id"),
                "name": actor.get("name"),
                "username": actor.get("username"),
                "avatar_url": None,
                "email": "[REDACTED]",
            },
            "project": self.project_hook_payload(project),
            "object_attributes": attrs,
            "repository": {
                "name": project["name"],
                "url": f"git@gitlab.sim:{project['path_with_namespace']}.git",
                "description": project["description"],
                "homepage": project["web_url"],
            },
            "assignees": assignees,
            "assignee": assignees[0] if assignees else None,
            "labels": labels,
            "changes": changes,
        }
        return ("Confidential Issue Hook" if confidential else "Issue Hook"), payload

    def milestone_hook(
        self, milestone: dict[str, Any], action: str, event_uuid: str | None
    ) -> None:
        """A Milestone Hook as GitLab sends it (Gitlab::DataBuilder::Milestone.build).

        A project milestone goes to the project's hooks (and its groups'), with the project's
        hook attributes. A group milestone has no project: GitLab builds `project:
        milestone.project&.hook_attrs`, i.e. `"project": null`, and sends it to the group's
        hooks and its ancestors'. lib/gitlab/data_builder/milestone.rb (gitlabhq) builds only
        object_kind, event_type, project, object_attributes and action, so no `group` block
        is sent here, though the Go client's newer fixture testdata/webhooks/milestone_group.json
        shows one. `object_attributes` carries `group_id` (set) and `project_id` (null) to tell
        the owner, as the 18.2 docs' example (webhook_events.md "Milestone events") lists both.
        """
        s = self.state
        attrs = {k: milestone[k] for k in MILESTONE_HOOK_FIELDS}
        for key in ("created_at", "updated_at"):
            attrs[key] = hook_time(attrs[key])
        if milestone.get("project_id"):
            project = s.projects[milestone["project_id"]]
            hooks, project_attrs = self.hooks_for(project), self.project_hook_payload(project)
        else:
            hooks, project_attrs = self.group_hooks(s.groups[milestone["group_id"]]), None
        payload = {
            "object_kind": "milestone",
            "event_type": "milestone",
            "project": project_attrs,
            "object_attributes": attrs,
            "action": action,
        }
        self.webhooks.emit(hooks, "Milestone Hook", payload, event_uuid)

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


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))
