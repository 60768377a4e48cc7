"""A merge request's commits in its project's repository: its diff refs (base, start, head),
its changes and whether it merges cleanly. A merged request keeps the refs it had when
merged, as its stored diff does in GitLab; an open one follows its branches."""

from __future__ import annotations

from typing import Any

from hooks.testing.sim_git import Change, Commit, Repo, changes, merged_tree


def mr_refs(repo: Repo, mr: dict[str, Any]) -> tuple[Commit | None, Commit | None, Commit | None]:
    """(base, start, head): the merge base, the target branch's head, the source head."""
    if mr.get("merged_refs"):
        base, start, head = mr["merged_refs"]
        return repo.commits.get(base), repo.commits.get(start), repo.commits.get(head)
    start = repo.commits.get(repo.branches.get(mr["target_branch"], ""))
    head = repo.commits.get(mr["sha"] or "")
    base = repo.merge_base(start, head) if start and head else None
    return base, start, head


def mr_changes(repo: Repo, mr: dict[str, Any]) -> list[Change]:
    """What the merge request changes: its head against the merge base."""
    base, _start, head = mr_refs(repo, mr)
    if head is None:
        return []
    return changes(base.files if base else {}, head.files)


def mr_conflicts(repo: Repo, mr: dict[str, Any]) -> list[str] | None:
    """The paths both sides changed differently; None when there is nothing to merge (a
    branch is missing)."""
    base, start, head = mr_refs(repo, mr)
    if start is None or head is None:
        return None
    return merged_tree(base.files if base else {}, start.files, head.files)[1]


def merge_status(repo: Repo, mr: dict[str, Any]) -> str:
    """`merge_status` as GitLab answers it (deprecated, still sent)."""
    if mr["state"] != "opened":
        return "can_be_merged" if mr["state"] == "merged" else "unchecked"
    found = mr_conflicts(repo, mr)
    return "can_be_merged" if found == [] else "cannot_be_merged"


def detailed_merge_status(repo: Repo, mr: dict[str, Any]) -> str:
    if mr["state"] != "opened":
        return "not_open"
    if mr["draft"]:
        return "draft_status"
    found = mr_conflicts(repo, mr)
    if found is None:
        return "commits_status"  # a branch is missing: nothing to merge
    return "conflict" if found else "mergeable"
