"""The engine: an event (or a scheduled time) and the rules in, a plan of actions out.

Pure except for the GitLab reads it makes through the `Reader` it is given. Each planned
action carries an idempotency key from the rule, the action's position, its subject and
the fingerprint of the triggering event's content (or the scheduled time), so a re-sent
delivery plans the same keys and a genuinely new change plans new ones.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from hooks.actions.base import PlanError as PlanError
from hooks.actions.base import PlannedAction as PlannedAction
from hooks.actions.base import Planning
from hooks.actions.registry import KINDS
from hooks.events import Event, IssueEvent, MilestoneEvent, ReleaseEvent
from hooks.rules import templates
from hooks.rules.comment_facts import keep_in_issue, said, said_scope
from hooks.rules.conditions import Facts, first_failure
from hooks.rules.health_order import lowest_health_only
from hooks.rules.iterations import iteration_scope
from hooks.rules.keys import action_key, event_fingerprint, once_key
from hooks.rules.model import Action, IssueQuery, Rule, RuleSet, Triggers
from hooks.rules.reader import (
    IssueInfo,
    MilestoneInfo,
    Reader,
    current_milestone,
    next_milestone,
)
from hooks.rules.status_conditions import change_of
from hooks.rules.subjects import (
    fan_out,
    iteration_items,
    milestone_from_event,
    subject_of,
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


# -- triggers ---------------------------------------------------------------------


def not_triggered(on: Triggers, event: Event) -> str | None:
    """None when the rule listens to this event, else why it does not."""
    listens: list[str] | None = getattr(on, event.kind, None)
    if listens is None:
        return f"on: does not listen to {event.kind} events"
    if event.action not in listens:
        return f"on: {event.kind} action {event.action!r} is not one of {listens}"
    return None


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
        bot: str | None = None,
    ) -> None:
        self.variables = variables or {}
        self.bot = bot
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
        if issue is not None:
            facts.load_status = lambda: self.reader.status(issue.project_path, issue.iid)
        if isinstance(event, IssueEvent) and issue is not None and issue.subject == event.subject:
            facts.added, facts.removed = event.changed_labels()
            facts.changed = set(event.changes)
            facts.status_change = change_of(event)
        if isinstance(event, MilestoneEvent):
            facts.event_milestone = milestone_from_event(event)
        if isinstance(event, ReleaseEvent):
            facts.release_tag = event.tag
        said(event, facts, self.bot, self.reader)
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
            **said_scope(self.event, self._payload, facts, self.bot, want),
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
        if want("iteration") or want("next_iteration"):
            scope.update(iteration_scope(facts.sprint_iteration, self.reader, facts.project))
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

    def subjects(
        self, query: IssueQuery, project: str
    ) -> tuple[list[IssueInfo], MilestoneInfo | None]:
        """The fan-out's issues, and the iteration they were listed from (if one was)."""
        if query.iteration:
            return iteration_items(query, query.project or project, self.reader, self.today)
        return fan_out(query, project, self.event, self.reader, self.milestones, self.today), None

    # actions -----------------------------------------------------------------------

    def action(self, rule: Rule, index: int, step: Action, facts: Facts) -> PlannedAction:
        kind = step.kind
        issue = facts.issue
        subject = issue.subject if issue else None
        subject_for_key: str | None = subject
        if subject is None and self.event is not None and not isinstance(self.event, IssueEvent):
            subject_for_key = self.event.subject
        fingerprint = self.fingerprint
        if step.once == "per_sprint" and facts.sprint_iteration is not None:
            fingerprint = f"sprint:iteration:{facts.sprint_iteration.id}"
        elif step.once == "per_sprint":
            sprint = facts.milestone.id if facts.milestone else "none"
            fingerprint = f"sprint:{sprint}"
        elif step.once == "per_subject":
            fingerprint = "subject"
        elif step.once:
            # A once-group shared by every rule naming the same text: each action kind acts
            # once per subject across all of them (e.g. one "needs attention" per sprint).
            group = self.render(step.once, rule, facts)
            key = once_key(kind, subject, group)
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
            statuses=self.reader.statuses,
        )
        planned = kind.plan(value := getattr(step, kind_name), planning)
        target = planned.target
        keep_in_issue(facts, kind, value, subject, target, planned.home)
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
        sprint = None
        if rule.for_each is not None:
            listed, sprint = self.subjects(rule.for_each.issues, project)
            candidates: list[IssueInfo | None] = list(listed)
        else:
            candidates = [subject]
        actions: list[PlannedAction] = []
        matched: list[str] = []
        first_reason = None
        for candidate in candidates:
            facts = self.facts(rule, candidate, candidate.project_path if candidate else project)
            facts.sprint_iteration = sprint
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
    kept, gave_way = lowest_health_only(actions)
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
    bot: str | None = None,
) -> Plan:
    """The actions the rules ask for in answer to one event, in rule order.

    `fingerprint` replaces the event's own (a change reconstructed from GitLab's current
    state has no delivery content to take it from); `skip` names rules not to run, and why;
    `bot` is the bot's username, whom commands in comments address.
    """
    fingerprint = fingerprint or event_fingerprint(event)
    planner = _Planner(reader, now, event, fingerprint, variables=rules.vars, bot=bot)
    return _run(
        rules.rules,
        planner,
        event.project_path,
        subject_of(event),
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
    skip: Callable[[Rule], str | None] | None = None,
) -> Plan:
    """The actions of a scheduled rule for one fire time (its keys carry that time)."""
    fingerprint = f"schedule:{scheduled_at.isoformat()}"
    planner = _Planner(reader, now, None, fingerprint, today, variables)
    project = rule.for_each.issues.project if rule.for_each and rule.for_each.issues.project else ""
    return _run([rule], planner, project, None, skip or (lambda r: None))
