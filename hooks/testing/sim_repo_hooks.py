"""The Push Hook and the Merge Request Hook of the simulated GitLab, shaped as
webhook_events.md "Push events" and "Merge request events" show them, and `pushed`: what a
branch moving sends (the push, then an `update` with `oldrev` for each open merge request
whose source branch it is).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hooks.testing.sim_git import ZERO_SHA, Commit, Repo, changes
from hooks.testing.sim_hook_payloads import hook_time
from hooks.testing.sim_mr_refs import detailed_merge_status, merge_status
from hooks.testing.sim_state import timestamp

if TYPE_CHECKING:
    from hooks.testing.sim_core import SimCore

MAX_PUSH_COMMITS = 20  # a push lists its newest 20 commits; total_commits_count has them all
STATE_IDS = {"opened": 1, "closed": 2, "merged": 3, "locked": 4}


def commit_url(project: dict[str, Any], sha: str) -> str:
    return f"{project['web_url']}/-/commit/{sha}"


def commit_hook(project: dict[str, Any], repo: Repo, commit: Commit) -> dict[str, Any]:
    """A commit as a push lists it: with the paths it added, modified and removed (a rename
    removes the old path and adds the new one), against its first parent."""
    parent = repo.commits.get(commit.parent_ids[0]) if commit.parent_ids else None
    added: list[str] = []
    modified: list[str] = []
    removed: list[str] = []
    for change in changes(parent.files if parent else {}, commit.files):
        if change.new_file:
            added.append(change.new_path)
        elif change.deleted_file:
            removed.append(change.old_path)
        elif change.old_path != change.new_path:
            removed.append(change.old_path)
            added.append(change.new_path)
        else:
            modified.append(change.new_path)
    return {
        **last_commit(project, commit),
        "added": added,
        "modified": modified,
        "removed": removed,
    }


def last_commit(project: dict[str, Any], commit: Commit) -> dict[str, Any]:
    return {
        "id": commit.id,
        "message": commit.message,
        "title": commit.title,
        "timestamp": commit.committed_date[:19] + "+00:00",
        "url": commit_url(project, commit.id),
        "author": {"name": commit.author_name, "email": commit.author_email},
    }


def push_payload(
    sim: SimCore, project: dict[str, Any], branch: str, before: str, after: str, actor_id: int
) -> dict[str, Any]:
    """A Push Hook's body for `branch` moving from `before` to `after` (ZERO_SHA: created or
    deleted)."""
    repo = sim.state.repo(project)
    head = repo.commits.get(after)
    # Moved back to an older commit (a force-push): nothing new, no commits listed. A new
    # branch lists what is not on the default branch (Git::BranchPushService).
    base: str | None = before if before != ZERO_SHA else None
    if base is None and branch != project["default_branch"]:
        base = repo.branches.get(project["default_branch"])
    pushed = repo.between(base, head) if head else []
    user = sim.user_rest(actor_id) or {}
    hook_project = sim.project_hook_payload(project)
    # Gitlab::DataBuilder::Push.build: the docs' example lacks `message`, `push_options` and
    # the project's `ci_config_path`, which the builder sends.
    return {
        "object_kind": "push",
        "event_name": "push",
        "before": before,
        "after": after,
        "ref": f"refs/heads/{branch}",
        "ref_protected": branch == project["default_branch"],  # GitLab protects it by default
        "checkout_sha": after if after != ZERO_SHA else None,
        "message": None,
        "user_id": user.get("id"),
        "user_name": user.get("name"),
        "user_username": user.get("username"),
        "user_email": "[REDACTED]",
        "user_avatar": user.get("avatar_url"),
        "project_id": project["id"],
        "project": hook_project,
        "repository": {
            **_repository(project),
            "git_http_url": hook_project["git_http_url"],
            "git_ssh_url": hook_project["git_ssh_url"],
            "visibility_level": hook_project["visibility_level"],
        },
        "commits": [commit_hook(project, repo, c) for c in pushed[-MAX_PUSH_COMMITS:]],
        "total_commits_count": len(pushed),
        "push_options": {},
    }


def pushed(
    sim: SimCore,
    project: dict[str, Any],
    branch: str,
    before: str,
    after: str,
    actor_id: int,
    event_uuid: str | None = None,
) -> None:
    """Send what a branch moving sends: the Push Hook, then an `update` Merge Request Hook
    (with `oldrev`) for each open merge request of the project from that branch."""
    hooks = sim.hooks_for(project)
    payload = push_payload(sim, project, branch, before, after, actor_id)
    sim.webhooks.emit(hooks, "Push Hook", payload, event_uuid)
    if after == ZERO_SHA:
        return
    for mr in list(sim.state.merge_requests.values()):
        if (
            mr["project_id"] == project["id"]
            and mr["source_branch"] == branch
            and mr["state"] == "opened"
            and mr["sha"] != after
        ):
            oldrev, mr["sha"] = mr["sha"], after
            mr["updated_at"] = timestamp(sim.now())
            merge_request_hook(sim, mr, "update", actor_id, {}, event_uuid, oldrev=oldrev)


def merge_request_hook(
    sim: SimCore,
    mr: dict[str, Any],
    action: str,
    actor_id: int,
    hook_changes: dict[str, Any],
    event_uuid: str | None,
    *,
    oldrev: str | None = None,
) -> None:
    """Send a Merge Request Hook to the project's hooks and its groups' hooks."""
    project = sim.state.projects[mr["project_id"]]
    payload = merge_request_payload(sim, mr, action, actor_id, hook_changes, oldrev=oldrev)
    sim.webhooks.emit(sim.hooks_for(project), "Merge Request Hook", payload, event_uuid)


def merge_request_payload(
    sim: SimCore,
    mr: dict[str, Any],
    action: str,
    actor_id: int,
    hook_changes: dict[str, Any],
    *,
    oldrev: str | None = None,
) -> dict[str, Any]:
    """A Merge Request Hook's body; `oldrev` (the previous head) only when code changed."""
    s = sim.state
    project = s.projects[mr["project_id"]]
    repo = s.repo(project)
    head = repo.commits.get(mr["sha"] or "")
    labels = [sim._label_object(t, project) for t in mr["labels"]]
    people = {
        key: [
            {"id": u["id"], "name": u["name"], "username": u["username"], "avatar_url": None}
            for u in (sim.user_rest(i) for i in mr[f"{key[:-1]}_ids"])
            if u
        ]
        for key in ("assignees", "reviewers")
    }
    side = {k: v for k, v in sim.project_hook_payload(project).items() if k != "id"}
    side.pop("ci_config_path", None)
    actor = sim.user_rest(actor_id) or {}
    attrs: dict[str, Any] = {
        "id": mr["id"],
        "iid": mr["iid"],
        "target_branch": mr["target_branch"],
        "source_branch": mr["source_branch"],
        "source_project_id": project["id"],
        "author_id": mr["author_id"],
        "assignee_ids": list(mr["assignee_ids"]),
        "assignee_id": mr["assignee_ids"][0] if mr["assignee_ids"] else None,
        "reviewer_ids": list(mr["reviewer_ids"]),
        "title": mr["title"],
        "created_at": hook_time(mr["created_at"]),
        "updated_at": hook_time(mr["updated_at"]),
        "last_edited_at": hook_time(mr["last_edited_at"]),
        "last_edited_by_id": mr["last_edited_by_id"],
        "milestone_id": mr["milestone_id"],
        "state_id": STATE_IDS[mr["state"]],
        "state": mr["state"],
        "blocking_discussions_resolved": True,
        "work_in_progress": mr["draft"],
        "draft": mr["draft"],
        "first_contribution": False,
        "merge_status": merge_status(repo, mr),
        "target_project_id": project["id"],
        "description": mr["description"],
        "prepared_at": hook_time(mr["created_at"]),
        "total_time_spent": 0,
        "time_change": 0,
        "human_total_time_spent": None,
        "human_time_change": None,
        "human_time_estimate": None,
        "url": f"{project['web_url']}/-/merge_requests/{mr['iid']}",
        "source": side,
        "target": side,
        "last_commit": last_commit(project, head) if head else None,
        "labels": labels,
        "action": action,
        "detailed_merge_status": detailed_merge_status(repo, mr),
    }
    if oldrev is not None:
        attrs["oldrev"] = oldrev
    return {
        "object_kind": "merge_request",
        "event_type": "merge_request",
        "user": {
            "id": actor.get("id"),
            "name": actor.get("name"),
            "username": actor.get("username"),
            "avatar_url": None,
            "email": "[REDACTED]",
        },
        "project": sim.project_hook_payload(project),
        "repository": _repository(project),
        "object_attributes": attrs,
        "labels": labels,
        "changes": hook_changes,
        **people,
    }


def _repository(project: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": project["name"],
        "url": f"git@gitlab.sim:{project['path_with_namespace']}.git",
        "description": project["description"],
        "homepage": project["web_url"],
    }
