"""Merge requests as the REST API answers them (lib/api/entities/merge_request_basic.rb and
merge_request.rb, doc/api/merge_requests.md), their diffs, and how one is stored."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from hooks.testing.sim_commit_statuses import combined_status
from hooks.testing.sim_git import FILE_MODE, Change, Repo, unified
from hooks.testing.sim_http import ApiError
from hooks.testing.sim_mr_refs import detailed_merge_status, merge_status, mr_changes, mr_refs
from hooks.testing.sim_state import timestamp

if TYPE_CHECKING:
    from hooks.testing.sim_core import SimCore

_DRAFT = re.compile(r"^\s*(\[draft\]|\(draft\)|draft:|draft\s-\s)", re.IGNORECASE)


def is_draft(title: str) -> bool:
    return bool(_DRAFT.match(title))


def new_merge_request(
    sim: SimCore, project: dict[str, Any], fields: dict[str, Any], author_id: int
) -> dict[str, Any]:
    """Store a merge request from `fields` (source_branch, target_branch, title, ...)."""
    s = sim.state
    repo = s.repo(project)
    now = timestamp(sim.now())
    mr: dict[str, Any] = {
        "id": s.new_id("merge_request"),
        "iid": s.new_id(f"mr_iid:{project['id']}"),
        "project_id": project["id"],
        "title": fields["title"],
        "description": fields.get("description") or "",
        "state": "opened",
        "source_branch": fields["source_branch"],
        "target_branch": fields["target_branch"],
        "sha": repo.branches.get(fields["source_branch"]),
        "author_id": author_id,
        "assignee_ids": list(fields.get("assignee_ids") or []),
        "reviewer_ids": list(fields.get("reviewer_ids") or []),
        "labels": list(dict.fromkeys(fields.get("labels") or [])),
        "milestone_id": fields.get("milestone_id"),
        "draft": is_draft(fields["title"]),
        "created_at": now,
        "updated_at": now,
        "last_edited_at": None,
        "last_edited_by_id": None,
        "merged_at": None,
        "merged_by_id": None,
        "closed_at": None,
        "closed_by_id": None,
        "merge_commit_sha": None,
        "squash_commit_sha": None,
        "squash": bool(fields.get("squash")),
        "merged_refs": None,
        "should_remove_source_branch": fields.get("remove_source_branch"),
        "discussion_locked": None,
    }
    s.merge_requests[mr["id"]] = mr
    s.mr_by_iid[(project["id"], mr["iid"])] = mr["id"]
    s.mr_notes[mr["id"]] = []
    return mr


def check_branches(sim: SimCore, mr: dict[str, Any]) -> None:
    """MergeRequest#validate_branches: refuse the same branch for source and target (422) and
    a second open request for the same branches (409), as handle_merge_request_errors! does."""
    if mr["source_branch"] == mr["target_branch"]:
        message = ["You can't use same project/branch for source and target"]
        raise ApiError(422, {"message": message})
    for other in sim.state.merge_requests.values():
        if (
            other["id"] != mr.get("id")
            and other["state"] == "opened"
            and (other["project_id"], other["source_branch"], other["target_branch"])
            == (mr["project_id"], mr["source_branch"], mr["target_branch"])
        ):
            reference = f"!{other['iid']}"
            message = [
                f"Another open merge request already exists for this source branch: {reference}"
            ]
            raise ApiError(409, {"message": message})


def diff_entry(change: Change, repo: Repo) -> dict[str, Any]:
    """One file's diff as the merge request diffs list it."""
    return {
        "old_path": change.old_path,
        "new_path": change.new_path,
        "a_mode": None if change.new_file else FILE_MODE,
        "b_mode": None if change.deleted_file else FILE_MODE,
        "diff": unified(change, repo.blobs),
        "new_file": change.new_file,
        "renamed_file": change.old_path != change.new_path,
        "deleted_file": change.deleted_file,
        "generated_file": False,
    }


def head_pipeline(sim: SimCore, mr: dict[str, Any]) -> dict[str, Any] | None:
    """The external pipeline commit statuses made on the head commit for the source branch."""
    pid = sim.state.pipelines.get((mr["project_id"], mr["sha"] or "", mr["source_branch"]))
    if pid is None:
        return None
    status = combined_status(sim, mr["project_id"], mr["sha"])
    return {"id": pid, "ref": mr["source_branch"], "sha": mr["sha"], "status": status}


def merge_request_rest(
    sim: SimCore, mr: dict[str, Any], uid: int, *, single: bool = False
) -> dict[str, Any]:
    """A merge request as a list answers it, or (`single`) as GET/POST/PUT answer one."""
    s = sim.state
    project = s.projects[mr["project_id"]]
    repo = s.repo(project)
    path = project["path_with_namespace"]
    milestone = s.milestones.get(mr["milestone_id"]) if mr["milestone_id"] else None
    assignees = [sim.user_rest(u) for u in mr["assignee_ids"]]
    notes = s.mr_notes.get(mr["id"], [])
    rest: dict[str, Any] = {
        "id": mr["id"],
        "iid": mr["iid"],
        "project_id": project["id"],
        "title": mr["title"],
        "description": mr["description"],
        "state": mr["state"],
        "imported": False,
        "imported_from": "none",
        "created_at": mr["created_at"],
        "updated_at": mr["updated_at"],
        "merged_by": sim.user_rest(mr["merged_by_id"]),
        "merge_user": sim.user_rest(mr["merged_by_id"]),
        "merged_at": mr["merged_at"],
        "merge_after": None,
        "prepared_at": mr["created_at"],
        "closed_by": sim.user_rest(mr["closed_by_id"]),
        "closed_at": mr["closed_at"],
        "target_branch": mr["target_branch"],
        "source_branch": mr["source_branch"],
        "user_notes_count": sum(1 for n in notes if not n["system"]),
        "upvotes": 0,
        "downvotes": 0,
        "author": sim.user_rest(mr["author_id"]),
        "assignees": assignees,
        "assignee": assignees[0] if assignees else None,
        "reviewers": [sim.user_rest(u) for u in mr["reviewer_ids"]],
        "source_project_id": project["id"],
        "target_project_id": project["id"],
        "labels": sorted(mr["labels"]),
        "draft": mr["draft"],
        "work_in_progress": mr["draft"],
        "milestone": sim.milestone_rest(milestone) if milestone else None,
        "merge_when_pipeline_succeeds": False,
        "merge_status": merge_status(repo, mr),
        "detailed_merge_status": detailed_merge_status(repo, mr),
        "sha": mr["sha"],
        "merge_commit_sha": mr["merge_commit_sha"],
        "squash_commit_sha": mr["squash_commit_sha"],
        "discussion_locked": mr["discussion_locked"],
        "should_remove_source_branch": mr["should_remove_source_branch"],
        "force_remove_source_branch": bool(mr["should_remove_source_branch"]),
        "reference": f"!{mr['iid']}",
        "references": {
            "short": f"!{mr['iid']}",
            "relative": f"!{mr['iid']}",
            "full": f"{path}!{mr['iid']}",
        },
        "web_url": f"{project['web_url']}/-/merge_requests/{mr['iid']}",
        "time_stats": {
            "time_estimate": 0,
            "total_time_spent": 0,
            "human_time_estimate": None,
            "human_total_time_spent": None,
        },
        "squash": mr["squash"],
        "squash_on_merge": mr["squash"],
        "task_completion_status": {"count": 0, "completed_count": 0},
        "has_conflicts": merge_status(repo, mr) == "cannot_be_merged",
        "blocking_discussions_resolved": True,
    }
    if not single:
        return rest
    base, start, head = mr_refs(repo, mr)
    commenters = {n["author"]["id"] for n in notes if n["author"]}
    participants = {mr["author_id"], *mr["assignee_ids"], *mr["reviewer_ids"], *commenters}
    return {
        **rest,
        "subscribed": uid in participants,
        "changes_count": str(len(mr_changes(repo, mr))),  # a string, as GitLab sends it
        "latest_build_started_at": None,
        "latest_build_finished_at": None,
        "first_deployed_to_production_at": None,
        "pipeline": None,
        "head_pipeline": head_pipeline(sim, mr),
        "diff_refs": {
            "base_sha": base.id if base else None,
            "head_sha": head.id if head else None,
            "start_sha": start.id if start else None,
        },
        "merge_error": None,
        "first_contribution": False,
        "user": {"can_merge": not s.users[uid].get("read_only")},
    }
