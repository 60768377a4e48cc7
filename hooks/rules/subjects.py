"""The subjects a rule acts on: the event's own issue or milestone, or a `for_each` fan-out."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from fnmatch import fnmatchcase

from hooks.actions.base import PlanError
from hooks.events import EmojiEvent, Event, IssueEvent, MilestoneEvent, NoteEvent
from hooks.rules.model import IssueQuery
from hooks.rules.reader import (
    IssueInfo,
    MilestoneInfo,
    Reader,
    by_title,
    current_milestone,
    next_milestone,
)


def issue_from_event(event: IssueEvent) -> IssueInfo:
    attrs = event.object_attributes
    milestone = MilestoneInfo(id=attrs.milestone_id, title="") if attrs.milestone_id else None
    author = event.user.username if event.user and event.action == "open" else None
    return IssueInfo(
        id=attrs.id,
        iid=attrs.iid or 0,
        project_path=event.project_path,
        title=attrs.title or "",
        description=attrs.description or "",
        state=attrs.state or "opened",
        labels=event.label_titles,
        milestone=milestone,
        assignees=[u.username for u in event.assignees if u.username],
        author=author,
        due_date=attrs.due_date,
        updated_at=attrs.updated_at,
        confidential=attrs.confidential or event.kind == "confidential_issue",
        web_url=attrs.url,
        health_status=attrs.health_status,
        iteration_id=attrs.iteration_id,
    )


def issue_from_comment(event: NoteEvent | EmojiEvent) -> IssueInfo | None:
    """The issue a comment or reaction is on, from the event's `issue` block."""
    attrs = event.issue
    if attrs is None or attrs.iid is None:
        return None
    milestone = MilestoneInfo(id=attrs.milestone_id, title="") if attrs.milestone_id else None
    return IssueInfo(
        id=attrs.id,
        iid=attrs.iid,
        project_path=event.project_path,
        title=attrs.title or "",
        description=attrs.description or "",
        state=attrs.state or "opened",
        labels=[label.title for label in attrs.labels],
        milestone=milestone,
        due_date=attrs.due_date,
        updated_at=attrs.updated_at,
        confidential=attrs.confidential,
        web_url=attrs.url,
        health_status=attrs.health_status,
        iteration_id=attrs.iteration_id,
    )


def subject_of(event: Event) -> IssueInfo | None:
    """The issue an event is about: the issue or work item itself, or the one commented on."""
    if isinstance(event, IssueEvent):
        return issue_from_event(event)
    if isinstance(event, NoteEvent | EmojiEvent):
        return issue_from_comment(event)
    return None


def milestone_from_event(event: MilestoneEvent) -> MilestoneInfo:
    attrs = event.object_attributes
    group = event.group_path
    return MilestoneInfo(
        id=attrs.id or 0,
        iid=attrs.iid,
        title=attrs.title or "",
        state=attrs.state or "active",
        start_date=attrs.start_date,
        due_date=attrs.due_date,
        project=None if group else event.project_path or None,
        group=group,
        group_id=attrs.group_id if group else None,
        project_id=None if group else attrs.project_id or event.project.id,
    )


def fan_out(
    query: IssueQuery,
    project: str,
    event: Event | None,
    reader: Reader,
    milestones: Callable[[str], list[MilestoneInfo]],
    today: date,
) -> list[IssueInfo]:
    """The issues a `for_each` rule acts on; `milestones(project)`: those a project sees."""
    project = query.project or project
    if query.iteration:
        return iteration_items(query, project, reader, today)[0]
    milestone = None
    if query.milestone == "event":
        if not isinstance(event, MilestoneEvent):
            raise PlanError("for_each milestone 'event' needs a milestone event")
        milestone = milestone_from_event(event)
    elif query.milestone == "closed":
        if isinstance(event, MilestoneEvent):
            milestone = milestone_from_event(event)
        else:
            closed = [
                m
                for m in milestones(project)
                if m.state == "closed" and m.due_date is not None and m.due_date < today
            ]
            milestone = max(closed, key=lambda m: (m.due_date, m.id)) if closed else None
        if milestone is None:
            return []
    elif query.milestone == "current":
        milestone = current_milestone(milestones(project), today)
        if milestone is None:
            raise PlanError(f"no current milestone in {project} on {today}")
    elif query.milestone == "next":
        ms = milestones(project)
        milestone = next_milestone(ms, current_milestone(ms, today), today)
        if milestone is None:
            raise PlanError(f"no next milestone in {project} after {today}")
    elif query.milestone:
        milestone = by_title(milestones(project), query.milestone)
        if milestone is None:
            raise PlanError(f"no milestone titled {query.milestone!r} in {project}")
    if milestone is not None:
        found = reader.milestone_issues(project, milestone, query.state)
    else:
        found = reader.issues(project, {"state": query.state, "labels": ",".join(query.labels)})
    return [i for i in found if all(label in i.labels for label in query.labels)]


def sprint_iteration(
    query: IssueQuery, project: str, reader: Reader, today: date
) -> MilestoneInfo | None:
    """The iteration a `for_each: {issues: {iteration: ...}}` lists the items of.

    `ended`: the latest iteration whose due date has passed (GitLab closes it then);
    `current`: the one whose dates contain today. Only the cadence `cadence` names counts:
    a group may run one cadence per team, with the same dates.
    """
    seen = reader.iterations(project)
    if query.cadence:
        seen = [i for i in seen if i.cadence and fnmatchcase(i.cadence, query.cadence)]
    cadences = {i.cadence_id for i in seen}
    if len(cadences) > 1:
        names = ", ".join(sorted({str(i.cadence) for i in seen}))
        raise PlanError(f"{project} sees several iteration cadences ({names}); name one: cadence")
    if query.iteration == "ended":
        ended = [i for i in seen if i.due_date is not None and i.due_date < today]
        return max(ended, key=lambda i: (i.due_date or today, i.id)) if ended else None
    running = [
        i
        for i in seen
        if i.start_date is not None
        and i.due_date is not None
        and i.start_date <= today <= i.due_date
    ]
    return running[0] if running else None


def iteration_items(
    query: IssueQuery, project: str, reader: Reader, today: date
) -> tuple[list[IssueInfo], MilestoneInfo | None]:
    """The items of the sprint's iteration and, with `with_tasks`, their child tasks."""
    iteration = sprint_iteration(query, project, reader, today)
    if iteration is None:
        return [], None
    listed = reader.issues(
        project,
        {"iteration_id": iteration.id, "state": query.state, "labels": ",".join(query.labels)},
    )
    items = [i for i in listed if all(label in i.labels for label in query.labels)]
    if query.with_tasks:
        seen = {i.subject for i in items}
        for parent in list(items):
            for child in reader.children(parent):
                wanted = query.state == "all" or child.state == query.state
                if wanted and child.type == "task" and child.subject not in seen:
                    seen.add(child.subject)
                    items.append(child)
    return items, iteration
