"""The changes of the simulated GitLab: adding labels and milestones, creating and updating
issues, and the webhooks those changes send (to the hooks of the project and its groups).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from hooks.events import MILESTONE_HOOK_FIELDS
from hooks.testing.sim_hook_payloads import SimHookPayloads, hook_time
from hooks.testing.sim_seed import when
from hooks.testing.sim_state import BASE_URL, timestamp
from hooks.testing.sim_webhooks import WebhookSender


class SimChanges(SimHookPayloads):
    """Changes to the state, each sending the webhooks GitLab would."""

    now: Callable[[], datetime]
    webhooks: WebhookSender

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
            "iteration_id": fields.get("iteration_id") or None,
            "issue_type": fields.get("issue_type") or "issue",
            "parent_id": fields.get("parent_id") or None,  # a child task's parent work item
            "status_id": None,  # None: the lifecycle's default for the state (sim_statuses)
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
        if "state" in changed and "status_id" not in changes:
            issue["status_id"] = None  # closing/reopening gives the lifecycle's default status
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
        for key in sorted(changed - _NOT_IN_HOOKS):
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


# Not a hook attribute (Gitlab::HookData::IssueBuilder): a status change sends no `changes` of it.
_NOT_IN_HOOKS = frozenset({"status_id"})


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))
