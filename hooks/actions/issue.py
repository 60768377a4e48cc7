"""`create_issue`: a new issue (sister issue, release checklist, task), linked to the subject."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

from pydantic import Field

from hooks.actions.base import (
    ActionKind,
    Effects,
    PlanError,
    Planned,
    PlannedAction,
    Planning,
    Result,
    SpecModel,
)
from hooks.actions.comment import contains
from hooks.rules.reader import by_title, current_milestone, next_milestone

TEXT_KEYS = ("title", "description", "text")


class CreateIssueSpec(SpecModel):
    project: str = Field(description="Project path where the issue is created.")
    title: str = Field(description="Jinja template of the title.")
    description: str = Field("", description="Jinja template of the description.")
    labels: list[str] = Field(default_factory=list)
    assignees: list[str] = Field(
        default_factory=list, description="Usernames (templates allowed, e.g. from vars)."
    )
    milestone: str | None = Field(None, description="'current', 'next' or a title.")
    due_in_days: int | None = Field(None, description="Due date this many days from today.")
    link: Literal["relates_to", "blocks", "is_blocked_by", "none"] = Field(
        "relates_to", description="How the new issue is linked to the subject."
    )
    confidential: bool = Field(False, description="Forced on when the subject is confidential.")


@dataclass(frozen=True)
class IssueParams:
    project: str
    title: str
    labels: tuple[str, ...]
    assignees: tuple[str, ...]
    milestone_id: int | None
    due_date: str | None  # ISO date
    confidential: bool
    link: str | None  # link type to the subject; None: not linked

    def to_dict(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "title": self.title,
            "labels": list(self.labels),
            "assignees": list(self.assignees),
            "milestone_id": self.milestone_id,
            "due_date": self.due_date,
            "confidential": self.confidential,
            "link": {"link_type": self.link} if self.link else None,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> IssueParams:
        return cls(
            project=data["project"],
            title=data.get("title") or "",
            labels=tuple(data.get("labels") or ()),
            assignees=tuple(data.get("assignees") or ()),
            milestone_id=data.get("milestone_id"),
            due_date=data.get("due_date"),
            confidential=bool(data.get("confidential")),
            link=(data.get("link") or {}).get("link_type"),
        )

    def fields(self, description: str, user_ids: list[int]) -> dict[str, Any]:
        """The POST's fields; `description` carries the marker, `user_ids` the assignees'."""
        found: dict[str, Any] = {
            "title": self.title,
            "description": description,
            "confidential": self.confidential,
        }
        if self.labels:
            found["labels"] = ",".join(self.labels)
        if self.assignees:
            found["assignee_ids"] = user_ids
        if self.milestone_id:
            found["milestone_id"] = self.milestone_id
        if self.due_date:
            found["due_date"] = self.due_date
        return found


class CreateIssue(ActionKind[IssueParams]):
    name = "create_issue"
    params_type = IssueParams
    needs_subject = False

    def step_type(self) -> Any:
        return CreateIssueSpec | None

    def templates(self, value: Any) -> list[tuple[list[str | int], str]]:
        if not isinstance(value, CreateIssueSpec):
            return []
        found: list[tuple[list[str | int], str]] = [
            (["title"], value.title),
            (["description"], value.description),
        ]
        return found + [(["assignees", i], a) for i, a in enumerate(value.assignees)]

    def plan(self, value: CreateIssueSpec, ctx: Planning) -> Planned[IssueParams]:
        spec, issue, today = value, ctx.facts.issue, ctx.today
        milestone_id = None
        if spec.milestone:
            ms = ctx.milestones(spec.project)
            if spec.milestone == "current":
                found = current_milestone(ms, today)
            elif spec.milestone == "next":
                found = next_milestone(ms, current_milestone(ms, today), today)
            else:
                found = by_title(ms, spec.milestone)
            if found is None:
                raise PlanError(f"no milestone {spec.milestone!r} in {spec.project}")
            milestone_id = found.id
        params = IssueParams(
            project=spec.project,
            title=ctx.render(spec.title),
            labels=tuple(spec.labels),
            assignees=tuple(
                name.strip().lstrip("@") for a in spec.assignees if (name := ctx.render(a)).strip()
            ),
            milestone_id=milestone_id,
            due_date=(today + timedelta(days=spec.due_in_days)).isoformat()
            if spec.due_in_days is not None
            else None,
            confidential=spec.confidential or bool(issue and issue.confidential),
            link=spec.link if issue is not None and spec.link != "none" else None,
        )
        return Planned(params, ctx.render(spec.description), home=spec.project)

    def perform(
        self, action: PlannedAction, params: IssueParams, fx: Effects, resumed: bool
    ) -> Result:
        import gitlab  # loaded where actions are carried out, not where rules are checked

        project = params.project
        created, found = fx.issue_once(
            action,
            project,
            lambda description: params.fields(
                description, fx.user_ids(params.assignees) if params.assignees else []
            ),
            resumed=resumed,
        )
        result = {"project": project, "iid": created["iid"], "web_url": created.get("web_url")}
        if found:
            result["found_by_marker"] = True
        if params.link and action.project and action.iid is not None:
            try:
                fx.ops.link_issues(action.project, action.iid, project, created["iid"], params.link)
            except gitlab.exceptions.GitlabError as exc:
                if exc.response_code != 409:  # 409: the two issues are already linked
                    raise
            result["linked"] = True
        return "done", result

    def describe(
        self, params: IssueParams, subject: str | None, text: str | None, result: dict[str, Any]
    ) -> str:
        who = ", ".join("@" + a for a in params.assignees) or "nobody"
        where = f"{result.get('project', params.project)}#{result.get('iid', '?')}"
        linked = f", linked to {subject}" if result.get("linked") else ""
        return f'created {where} "{params.title}" (assigned {who}{linked})'

    def matches(self, want: Any, params: IssueParams, text: str | None) -> bool:
        stored = params.to_dict()
        return all(
            contains(text if k == "description" else stored.get(k), v)
            if k in TEXT_KEYS
            else stored.get(k) == v
            for k, v in dict(want).items()
        )
