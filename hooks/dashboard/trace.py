"""A delivery's audit trail as runs: each processing of it, with rules, actions and notes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# The audit line that opens a processing of a delivery (see hooks.processing.processor).
_RUN_STARTS = ("received", "recorded", "scheduled")


@dataclass
class Run:
    """One processing of a delivery (the first, or a retry or replay after it)."""

    number: int
    started_at: datetime | None
    event: dict[str, Any] = field(default_factory=dict)
    rules: list[dict[str, Any]] = field(default_factory=list)
    actions: list[dict[str, Any]] = field(default_factory=list)
    notes: list[dict[str, Any]] = field(default_factory=list)
    # The rules version that planned this run (a commit SHA or the folder's content hash).
    rules_version: str | None = None

    @property
    def matched(self) -> int:
        return sum(r["outcome"] == "matched" for r in self.rules)


def runs_of(trail: list[dict[str, Any]]) -> list[Run]:
    """Split audit lines (oldest first) into runs; lines before any run open run 0."""
    runs: list[Run] = []
    for line in trail:
        starts = line["kind"] == "event" and line["outcome"] in _RUN_STARTS
        if starts or not runs:
            number = len([r for r in runs if r.number > 0]) + 1 if starts else 0
            runs.append(Run(number=number, started_at=line["created_at"]))
        run = runs[-1]
        run.rules_version = run.rules_version or line.get("rules_version")
        if starts:
            run.event = line["detail"]
        elif line["kind"] == "rule":
            run.rules.append(line)
        elif line["kind"] == "action":
            run.actions.append(line)
        else:  # loop guard, retries, replays: said in words under the run
            run.notes.append(line)
    return runs


def version_link(version: str | None, gitlab_url: str, project: str) -> str | None:
    """The commit page of a rules version read from a GitLab project (by path), else None."""
    if not version or not project or project.isdigit() or len(version) not in (40, 64):
        return None
    return f"{gitlab_url.rstrip('/')}/{project.strip('/')}/-/commit/{version}"
