"""Push Hook and Merge Request Hook of the rules project: which ones intake keeps, and their
payloads as the rules source reads them (doc/user/project/integrations/webhook_events.md).

Only the rules project's pushes to the rules ref and its merge requests into that ref are
stored; every other push or merge request event is answered 202 and ignored as before, so a
service without HOOKS_RULES_PROJECT behaves exactly as it did.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

RULES_EVENTS: dict[str, str] = {"Push Hook": "push", "Merge Request Hook": "merge_request"}
NULL_SHA = "0" * 40


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore")


class HookProject(_Model):
    id: int
    path_with_namespace: str
    default_branch: str | None = None


class PushEvent(_Model):
    """A push to a branch of the rules project."""

    ref: str
    before: str
    after: str
    checkout_sha: str | None = None
    user_username: str | None = None
    total_commits_count: int = 0
    project: HookProject

    @property
    def branch(self) -> str | None:
        return self.ref.removeprefix("refs/heads/") if self.ref.startswith("refs/heads/") else None


class LastCommit(_Model):
    id: str


class MergeRequestAttributes(_Model):
    iid: int
    action: str | None = None
    state: str | None = None
    target_branch: str
    source_branch: str
    oldrev: str | None = None
    last_commit: LastCommit | None = None
    url: str | None = None


class MergeRequestEvent(_Model):
    """A merge request event of the rules project."""

    project: HookProject
    object_attributes: MergeRequestAttributes
    user: dict[str, Any] = Field(default_factory=dict)

    @property
    def head(self) -> str | None:
        commit = self.object_attributes.last_commit
        return commit.id if commit else None

    def why_not_checked(self) -> str | None:
        """None when this event asks for a check: opened, reopened, or new commits pushed."""
        attrs = self.object_attributes
        if attrs.action in ("open", "reopen"):
            return None
        if attrs.action == "update" and attrs.oldrev:
            return None
        if attrs.action == "update":
            return "updated without new commits"
        return f"action '{attrs.action}' needs no check"


def matches_project(configured: str, project: Any) -> bool:
    """The payload's project is HOOKS_RULES_PROJECT (given as a path or a numeric id)."""
    if not configured or not isinstance(project, dict):
        return False
    if configured.isdigit():
        return str(project.get("id")) == configured
    path = project.get("path_with_namespace")
    return isinstance(path, str) and path.lower() == configured.strip("/").lower()


def rules_ref(configured_ref: str, project: dict[str, Any]) -> str | None:
    """HOOKS_RULES_REF, else the default branch the payload names."""
    branch = configured_ref or project.get("default_branch")
    return branch if isinstance(branch, str) and branch else None


def rules_event_kind(
    rules_project: str, configured_ref: str, header: str, payload: dict[str, Any]
) -> str | None:
    """'push' or 'merge_request' for an event the rules source acts on, else None."""
    kind = RULES_EVENTS.get(header)
    project = payload.get("project")
    if kind is None or not matches_project(rules_project, project):
        return None
    assert isinstance(project, dict)
    ref = rules_ref(configured_ref, project)
    if kind == "push":
        return kind if payload.get("ref") == f"refs/heads/{ref}" else None
    attrs = payload.get("object_attributes")
    target = attrs.get("target_branch") if isinstance(attrs, dict) else None
    return kind if target == ref else None
