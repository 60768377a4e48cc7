"""The rule language's `examples:`: an event (or a scheduled time), the GitLab state it
meets, and the actions the rule must plan (run by `hooks test`); `hooks.rules.model` holds
them in `Rule`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from hooks.actions.base import SpecModel


class ExampleEvent(SpecModel):
    header: str = Field("Issue Hook", description="X-Gitlab-Event of the example delivery.")
    fixture: str | None = Field(None, description="JSON payload file, relative to the rule file.")
    payload: dict[str, Any] | None = Field(None, description="The payload inline.")
    patch: dict[str, Any] | None = Field(None, description="Merged into the payload.")


class ExampleGitlab(SpecModel):
    milestones: list[dict[str, Any]] = Field(default_factory=list, description="REST shapes.")
    issues: list[dict[str, Any]] = Field(
        default_factory=list,
        description="REST shapes; `status: NAME` is a work item status (not in GitLab's REST);"
        " a child task has issue_type: task and parent: 'path#iid'.",
    )
    iterations: list[dict[str, Any]] = Field(
        default_factory=list,
        description="GraphQL shapes: {id, title, startDate, dueDate, state, iterationCadence}.",
    )
    statuses: list[dict[str, Any]] | None = Field(
        None,
        description="The namespace's allowed statuses ({name, category}); default GitLab's five.",
    )
    members: list[dict[str, Any]] = Field(
        default_factory=list, description="Project members, REST shapes (id, access_level)."
    )


class Example(SpecModel):
    """An event and the actions the rule must plan for it (run by `hooks test`)."""

    name: str
    event: ExampleEvent | None = None
    scheduled_at: datetime | None = Field(None, description="For schedule rules.")
    now: datetime | None = None
    gitlab: ExampleGitlab = Field(default_factory=ExampleGitlab)
    expect: list[dict[str, Any]] = Field(
        description="Planned actions in order: {add_labels: [...]}, {comment: 'contains'}, ..."
    )
