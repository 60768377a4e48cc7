"""The webhook payloads of the simulated GitLab, as GitLab's data builders shape them: a
project's hook attributes, an issue event (webhook_events.md), timestamps as hooks write them.
"""

from __future__ import annotations

from typing import Any

from hooks.testing.sim_shapes import SimShapes

WORK_ITEM_TYPES = {
    "issue": "Issue",
    "incident": "Incident",
    "task": "Task",
    "test_case": "TestCase",
}


class SimHookPayloads(SimShapes):
    """Webhook payloads of the state's objects, on top of their REST shapes."""

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
            "default_branch": project["default_branch"],
            "ci_config_path": None,
            "homepage": project["web_url"],
            "url": f"git@gitlab.sim:{path}.git",
            "ssh_url": f"git@gitlab.sim:{path}.git",
            "http_url": f"{project['web_url']}.git",
        }

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
            "type": WORK_ITEM_TYPES.get(issue.get("issue_type", "issue"), "Issue"),
            "url": f"{project['web_url']}/-/issues/{issue['iid']}",
            "state": issue["state"],
            "action": action,
            "severity": "unknown",
            "escalation_status": None,
            "escalation_policy": None,
            "labels": labels,
        }
        # GitLab 17.2+ sends work items other than issues (tasks...) as `work_item`.
        kind = "issue" if issue.get("issue_type", "issue") in ("issue", "incident") else "work_item"
        payload = {
            "object_kind": kind,
            "event_type": "confidential_issue" if confidential and kind == "issue" else kind,
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


def hook_time(value: str | None) -> str | None:
    """A REST timestamp ('2026-01-02T03:04:05.000Z') as webhooks write it ('... UTC')."""
    if not value:
        return value
    return value.replace("T", " ")[:19] + " UTC"
