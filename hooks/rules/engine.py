"""The engine: an event (or a scheduled time) and the rules in, a plan of actions out.

Pure except for the GitLab reads it makes through the `Reader` it is given. Each planned
action carries an idempotency key from the rule, the action's position, its subject and
the fingerprint of the triggering event's content (or the scheduled time), so a re-sent
delivery plans the same keys and a genuinely new change plans new ones.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from hooks.actions.base import PlanError as PlanError
from hooks.actions.base import PlannedAction as PlannedAction
from hooks.actions.base import Planning
from hooks.actions.health import HealthParams
from hooks.actions.registry import KINDS
from hooks.events import Event, IssueEvent, MilestoneEvent, ReleaseEvent
from hooks.rules import templates
from hooks.rules.conditions import Facts, first_failure
from hooks.rules.model import Action, IssueQuery, Rule, RuleSet, Triggers
from hooks.rules.reader import (
    IssueInfo,
    MilestoneInfo,
    Reader,
    by_title,
    current_milestone,
    next_milestone,
)


@dataclass(frozen=True)
class RuleTrace:
    """Whether a rule matched, and if not, the first condition that failed."""

    rule: str
    matched: bool
    reason: str | None = None
    error: str | None = None
    subjects: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Plan:
    actions: list[PlannedAction]
    trace: list[RuleTrace]
    fingerprint: str


# -- fingerprints and keys -------------------------------------------------------


def _digest(*parts: object, size: int = 16) -> str:
    raw = json.dumps(parts, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(raw.encode()).hexdigest()[:size]


def event_fingerprint(event: Event) -> str:
    """The event's content: kind, action, object, updated_at and changes (not its delivery)."""
    if isinstance(event, IssueEvent):
        attrs = event.object_attributes
        changes = {k: v.model_dump(mode="json") for k, v in sorted(event.changes.items())}
        return _digest(event.kind, event.action, attrs.id, attrs.updated_at, changes)
    if isinstance(event, MilestoneEvent):
        attrs_m = event.object_attributes
        return _digest("milestone", event.action, attrs_m.id, attrs_m.updated_at, attrs_m.state)
    return _digest(
        "release",
        event.action,
        event.project_path,
        event.tag,
        event.released_at,
        event.created_at,
        event.description,
    )


def action_key(rule: str, index: int, action: str, subject: str | None, fingerprint: str) -> str:
    """Short, ASCII, no spaces and no '--' (it goes inside an HTML comment)."""
    return f"{rule}.{index}.{_digest(rule, index, action, subject, fingerprint)}"


# -- triggers ---------------------------------------------------------------------


def not_triggered(on: Triggers, event: Event) -> str | None:
    """None when the rule listens to this event, else why it does not."""
    listens: list[str] | None = getattr(on, event.kind, None)
    if listens is None:
        return f"on: does not listen to {event.kind} events"
    if event.action not in listens:
        return f"on: {event.kind} action {event.action!r} is not one of {listens}"
    return None


# -- facts about subjects -----------------------------------------------------------


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


class _Planner:
    """Plans one rule; holds what is read once per event and shared between subjects."""

    def __init__(
        self,
        reader: Reader,
        now: datetime,
        event: Event | None,
        fingerprint: str,
        today: date | None = None,
        variables: dict[str, Any] | None = None,
    ) -> None:
        self.variables = variables or {}
        self.reader = reader
        self.now = now
        self.today = today or now.date()
        self.event = event
        self.fingerprint = fingerprint
        self._milestones: dict[tuple[str, str], list[MilestoneInfo]] = {}
        self._dumps: dict[int, dict[str, Any]] = {}
        self._facts: dict[tuple[int, str], Facts] = {}
        self._payload = event.model_dump(mode="json", by_alias=True) if event else {}

    def milestones(self, project: str) -> list[MilestoneInfo]:
        """The milestones `project` sees: its own and its ancestor groups'."""
        if ("project", project) not in self._milestones:
            self._milestones["project", project] = self.reader.milestones(project)
        return self._milestones["project", project]

    def group_milestones(self, group: str) -> list[MilestoneInfo]:
        if ("group", group) not in self._milestones:
            self._milestones["group", group] = self.reader.group_milestones(group)
        return self._milestones["group", group]

    def _visible_milestones(self, project: str) -> list[MilestoneInfo]:
        """The milestones a subject in `project` sees; for a group milestone's own event
        (which has no project), the group's."""
        if not project and isinstance(self.event, MilestoneEvent) and self.event.group_path:
            return self.group_milestones(self.event.group_path)
        return self.milestones(project)

    # facts -------------------------------------------------------------------------

    def facts(self, rule: Rule, issue: IssueInfo | None, project: str) -> Facts:
        """The facts about one subject, built once per plan and shared by every rule."""
        cache_key = (id(issue), project)
        facts = self._facts.get(cache_key)
        if facts is None:
            facts = self._facts[cache_key] = self._new_facts(issue, project)
        facts.scope = lambda wanted: self.scope(rule, facts, wanted)
        return facts

    def _new_facts(self, issue: IssueInfo | None, project: str) -> Facts:
        event = self.event
        facts = Facts(
            kind=event.kind if event else "schedule",
            action=event.action if event else None,
            project=project,
            now=self.now,
            today=self.today,
            issue=issue,
            load_milestones=lambda: self._visible_milestones(project),
            load_project_milestones=self.milestones,
            event_project=event.project_path or None if event else None,
        )
        if isinstance(event, IssueEvent) and issue is not None and issue.subject == event.subject:
            facts.added, facts.removed = event.changed_labels()
            facts.changed = set(event.changes)
        if isinstance(event, MilestoneEvent):
            facts.event_milestone = milestone_from_event(event)
        if isinstance(event, ReleaseEvent):
            facts.release_tag = event.tag
        return facts

    def scope(self, rule: Rule, facts: Facts, wanted: frozenset[str] | None) -> dict[str, Any]:
        """Template variables; GitLab is read only for the ones the template names."""

        def want(name: str) -> bool:
            return wanted is None or name in wanted

        scope: dict[str, Any] = {
            "event": self._payload,
            "now": self.now,
            "today": self.today,
            "rule": {"name": rule.name, "description": rule.description},
            "project": self._payload.get("project") or {"path_with_namespace": facts.project},
            "user": self._payload.get("user") or {},
            "issue": self._dump(facts.issue),
            "release": self._payload if isinstance(self.event, ReleaseEvent) else None,
            "vars": self.variables,
        }
        if want("open_issues"):

            def open_issues(project: str, labels: list[str] | None = None) -> list[dict[str, Any]]:
                query = {"state": "opened", "labels": ",".join(labels or [])}
                return [i.model_dump(mode="json") for i in self.reader.issues(project, query)]

            scope["open_issues"] = open_issues
        if want("milestones_of"):

            def milestones_of(project: str) -> list[dict[str, Any]]:
                return [m.model_dump(mode="json") for m in self.milestones(project)]

            scope["milestones_of"] = milestones_of
        if want("milestone_issues"):
            m = facts.milestone
            found = self.reader.milestone_issues(facts.project, m, "opened") if m else []
            scope["milestone_issues"] = [i.model_dump(mode="json") for i in found]
        if want("milestone"):
            m = facts.milestone
            scope["milestone"] = m.model_dump(mode="json") if m else None
        if want("next_milestone"):
            after = facts.milestone or current_milestone(facts.milestones, self.today)
            upcoming = next_milestone(facts.milestones, after, self.today)
            scope["next_milestone"] = upcoming.model_dump(mode="json") if upcoming else None
        return scope

    def _dump(self, issue: IssueInfo | None) -> dict[str, Any] | None:
        # One JSON view per subject per plan: every rule's templates share it.
        if issue is None:
            return None
        found = self._dumps.get(id(issue))
        if found is None:
            found = self._dumps[id(issue)] = issue.model_dump(mode="json")
        return found

    def render(self, source: str, rule: Rule, facts: Facts) -> str:
        return templates.render(source, self.scope(rule, facts, templates.variables(source)))

    # fan-out -----------------------------------------------------------------------

    def subjects(self, query: IssueQuery, project: str) -> list[IssueInfo]:
        project = query.project or project
        milestone = None
        if query.milestone == "event":
            if not isinstance(self.event, MilestoneEvent):
                raise PlanError("for_each milestone 'event' needs a milestone event")
            milestone = milestone_from_event(self.event)
        elif query.milestone == "closed":
            if isinstance(self.event, MilestoneEvent):
                milestone = milestone_from_event(self.event)
            else:
                closed = [
                    m
                    for m in self.milestones(project)
                    if m.state == "closed" and m.due_date is not None and m.due_date < self.today
                ]
                milestone = max(closed, key=lambda m: (m.due_date, m.id)) if closed else None
            if milestone is None:
                return []
        elif query.milestone == "current":
            milestone = current_milestone(self.milestones(project), self.today)
            if milestone is None:
                raise PlanError(f"no current milestone in {project} on {self.today}")
        elif query.milestone == "next":
            ms = self.milestones(project)
            milestone = next_milestone(ms, current_milestone(ms, self.today), self.today)
            if milestone is None:
                raise PlanError(f"no next milestone in {project} after {self.today}")
        elif query.milestone:
            milestone = by_title(self.milestones(project), query.milestone)
            if milestone is None:
                raise PlanError(f"no milestone titled {query.milestone!r} in {project}")
        if milestone is not None:
            found = self.reader.milestone_issues(project, milestone, query.state)
        else:
            found = self.reader.issues(
                project, {"state": query.state, "labels": ",".join(query.labels)}
            )
        return [i for i in found if all(label in i.labels for label in query.labels)]

    # actions -----------------------------------------------------------------------

    def action(self, rule: Rule, index: int, step: Action, facts: Facts) -> PlannedAction:
        kind = step.kind
        issue = facts.issue
        subject = issue.subject if issue else None
        subject_for_key: str | None = subject
        if subject is None and self.event is not None and not isinstance(self.event, IssueEvent):
            subject_for_key = self.event.subject
        fingerprint = self.fingerprint
        if step.once == "per_sprint":
            sprint = facts.milestone.id if facts.milestone else "none"
            fingerprint = f"sprint:{sprint}"
        elif step.once == "per_subject":
            fingerprint = "subject"
        elif step.once:
            # A once-group shared by every rule naming the same text: each action kind acts
            # once per subject across all of them (e.g. one "needs attention" per sprint).
            group = self.render(step.once, rule, facts)
            key = f"once.{_digest(kind, subject, group)}"
            return self._planned(rule, kind, step, facts, key)
        return self._planned(
            rule,
            kind,
            step,
            facts,
            action_key(rule.name, index, kind, subject_for_key, fingerprint),
        )

    def _planned(
        self, rule: Rule, kind_name: str, step: Action, facts: Facts, key: str
    ) -> PlannedAction:
        """The step's kind plans it; where it lands follows from its subject or target."""
        kind = KINDS[kind_name]
        issue = facts.issue
        subject = issue.subject if issue else None
        planning = Planning(
            rule=rule.name,
            allow_confidential_leak=rule.allow_confidential_leak,
            facts=facts,
            today=self.today,
            render=lambda source: self.render(source, rule, facts),
            milestones=self.milestones,
            iterations=self.reader.iterations,
        )
        planned = kind.plan(step.value, planning)
        target = planned.target
        if kind.needs_subject and target is None and issue is None:
            raise PlanError(f"{kind_name} needs an issue subject; add for_each or a target")
        project, iid = (issue.project_path, issue.iid) if issue else (None, None)
        if target is not None:
            project, iid = target
            subject = f"{project}#{iid}"
        if not kind.needs_subject and issue is None:
            project = planned.home
        return PlannedAction(
            rule=rule.name,
            action=kind_name,
            subject=subject,
            project=project,
            iid=iid,
            args=planned.params,
            text=planned.text,
            key=key,
            dry_run=rule.dry_run,
        )

    # one rule ----------------------------------------------------------------------

    def rule(
        self, rule: Rule, project: str, subject: IssueInfo | None
    ) -> tuple[list[PlannedAction], RuleTrace]:
        if rule.for_each is not None:
            candidates: list[IssueInfo | None] = list(self.subjects(rule.for_each.issues, project))
        else:
            candidates = [subject]
        actions: list[PlannedAction] = []
        matched: list[str] = []
        first_reason = None
        for candidate in candidates:
            facts = self.facts(rule, candidate, candidate.project_path if candidate else project)
            reason = first_failure(rule.if_, facts) if rule.if_ is not None else None
            if reason is not None:
                first_reason = first_reason or reason
                continue
            matched.append(candidate.subject if candidate else (project or "-"))
            actions.extend(self.action(rule, i, step, facts) for i, step in enumerate(rule.do))
        if rule.for_each is not None:
            reason = None if matched else (first_reason or "for_each: no issue to act on")
            if matched and len(matched) < len(candidates):
                reason = f"{len(matched)} of {len(candidates)} issues matched"
            return actions, RuleTrace(rule.name, bool(matched), reason, subjects=matched)
        return actions, RuleTrace(rule.name, bool(matched), first_reason)


_HEALTH_ORDER = {"at_risk": 0, "needs_attention": 1, "on_track": 2, None: 3}


def _health(action: PlannedAction) -> str | None:
    return action.args.status if isinstance(action.args, HealthParams) else None


def _lowest_health_only(
    actions: list[PlannedAction],
) -> tuple[list[PlannedAction], dict[str, str]]:
    """Of several set_health actions on one subject in one plan, keep the lowest.

    Automation only lowers health: when a new item is both new to the sprint (On Track)
    and blocked (Needs Attention), it goes straight to Needs Attention, one write. The
    comments of the rules whose health change was dropped go too: one change, one
    explanation (the first rule's, among equals). Also returns, per rule that gave way,
    why it did nothing although it matched.
    """
    lowest: dict[str, PlannedAction] = {}
    for a in actions:
        if a.action == "set_health" and a.subject is not None:
            kept = lowest.get(a.subject)
            rank = _HEALTH_ORDER.get(_health(a), 3)
            if kept is None or rank < _HEALTH_ORDER.get(_health(kept), 3):
                lowest[a.subject] = a
    dropped = {
        (a.rule, a.subject)
        for a in actions
        if a.action == "set_health" and a.subject is not None and lowest[a.subject] is not a
    }
    gave_way: dict[str, str] = {}
    for rule, subject in sorted(dropped, key=str):
        kept = lowest[str(subject)]
        gave_way.setdefault(
            rule,
            f"gave way on {subject}: {kept.rule} sets {_health(kept)} "
            "(one health change, one comment)",
        )
    kept_actions = [
        a
        for a in actions
        if (a.rule, a.subject) not in dropped or a.action not in ("set_health", "comment")
    ]
    return kept_actions, gave_way


def _run(
    rules: list[Rule],
    planner: _Planner,
    project: str,
    subject: IssueInfo | None,
    skip: Callable[[Rule], str | None],
) -> Plan:
    actions: list[PlannedAction] = []
    trace: list[RuleTrace] = []
    for rule in rules:
        why_not = "disabled" if not rule.enabled else skip(rule)
        if why_not:
            trace.append(RuleTrace(rule.name, False, why_not))
            continue
        try:
            planned, rule_trace = planner.rule(rule, project, subject)
        except Exception as exc:  # one rule's error must not stop the others
            trace.append(RuleTrace(rule.name, False, None, error=f"{type(exc).__name__}: {exc}"))
            continue
        actions.extend(planned)
        trace.append(rule_trace)
    kept, gave_way = _lowest_health_only(actions)
    trace = [
        replace(t, reason="; ".join(filter(None, (t.reason, gave_way[t.rule]))))
        if t.rule in gave_way
        else t
        for t in trace
    ]
    return Plan(kept, trace, planner.fingerprint)


def plan(
    event: Event,
    rules: RuleSet,
    reader: Reader,
    *,
    now: datetime,
    fingerprint: str | None = None,
    skip: Callable[[Rule], str | None] | None = None,
) -> Plan:
    """The actions the rules ask for in answer to one event, in rule order.

    `fingerprint` replaces the event's own (a change reconstructed from GitLab's current
    state has no delivery content to take it from); `skip` names rules not to run, and why.
    """
    fingerprint = fingerprint or event_fingerprint(event)
    planner = _Planner(reader, now, event, fingerprint, variables=rules.vars)
    subject = issue_from_event(event) if isinstance(event, IssueEvent) else None
    return _run(
        rules.rules,
        planner,
        event.project_path,
        subject,
        lambda rule: not_triggered(rule.on, event) or (skip(rule) if skip else None),
    )


def plan_schedule(
    rule: Rule,
    scheduled_at: datetime,
    reader: Reader,
    *,
    now: datetime,
    today: date | None = None,
    variables: dict[str, Any] | None = None,
) -> Plan:
    """The actions of a scheduled rule for one fire time (its keys carry that time)."""
    fingerprint = f"schedule:{scheduled_at.isoformat()}"
    planner = _Planner(reader, now, None, fingerprint, today, variables)
    project = rule.for_each.issues.project if rule.for_each and rule.for_each.issues.project else ""
    return _run([rule], planner, project, None, lambda r: None)
