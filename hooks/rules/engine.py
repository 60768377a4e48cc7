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
from datetime import date, datetime, timedelta
from typing import Any

from hooks.events import Event, IssueEvent, MilestoneEvent, ReleaseEvent
from hooks.rules import templates
from hooks.rules.conditions import Facts, current_milestone, first_failure, next_milestone
from hooks.rules.model import (
    Action,
    CommentSpec,
    CreateIssueSpec,
    HealthSpec,
    IssueQuery,
    Rule,
    RuleSet,
    Triggers,
)
from hooks.rules.reader import IssueInfo, MilestoneInfo, Reader


class PlanError(Exception):
    """A rule that cannot be planned for this subject; recorded as that rule's error."""


@dataclass(frozen=True)
class PlannedAction:
    """One action to perform once: what, on which subject, with which parameters."""

    rule: str
    action: str
    subject: str | None
    project: str | None
    iid: int | None
    params: dict[str, Any]
    text: str | None
    key: str
    dry_run: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "action": self.action,
            "subject": self.subject,
            "params": self.params,
            "text": self.text,
            "key": self.key,
            "dry_run": self.dry_run,
        }


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


def _sprint(facts: Facts) -> str | None:
    """The title of the subject's milestone, if known without another GitLab read."""
    milestone = facts.milestone_if_read()
    return milestone.title or None if milestone else None


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


def _event_group(event: Event | None) -> str | None:
    """The group id of a group milestone's event, which has no project."""
    if isinstance(event, MilestoneEvent) and event.object_attributes.group_id:
        return str(event.object_attributes.group_id)
    return None


def milestone_from_event(event: MilestoneEvent) -> MilestoneInfo:
    attrs = event.object_attributes
    return MilestoneInfo(
        id=attrs.id or 0,
        iid=attrs.iid,
        title=attrs.title or "",
        state=attrs.state or "active",
        start_date=attrs.start_date,
        due_date=attrs.due_date,
        project=event.project_path if attrs.project_id else None,
        group=str(attrs.group_id) if attrs.group_id else None,
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
        self._milestones: dict[str, list[MilestoneInfo]] = {}
        self._dumps: dict[int, dict[str, Any]] = {}
        self._facts: dict[tuple[int, str], Facts] = {}
        self._payload = event.model_dump(mode="json", by_alias=True) if event else {}

    def milestones(self, project: str) -> list[MilestoneInfo]:
        if project not in self._milestones:
            group = _event_group(self.event) if not project else None
            # A group milestone's event has no project (GitLab sends "project": null): its
            # sprints are the group's.
            self._milestones[project] = (
                self.reader.group_milestones(group) if group else self.reader.milestones(project)
            )
        return self._milestones[project]

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
            load_milestones=lambda: self.milestones(project),
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
            milestone = next(
                (m for m in self.milestones(project) if m.title == query.milestone), None
            )
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
        self, rule: Rule, kind: str, step: Action, facts: Facts, key: str
    ) -> PlannedAction:
        issue = facts.issue
        subject = issue.subject if issue else None
        params, text, target = self._params(rule, kind, step, facts)
        if kind not in ("create_issue",) and target is None and issue is None:
            raise PlanError(f"{kind} needs an issue subject; add for_each or a target")
        project, iid = (issue.project_path, issue.iid) if issue else (None, None)
        if target is not None:
            project, iid = target
            subject = f"{project}#{iid}"
        return PlannedAction(
            rule=rule.name,
            action=kind,
            subject=subject,
            project=project if kind != "create_issue" or issue else params.get("project"),
            iid=iid,
            params=params,
            text=text,
            key=key,
            dry_run=rule.dry_run,
        )

    def _params(
        self, rule: Rule, kind: str, step: Action, facts: Facts
    ) -> tuple[dict[str, Any], str | None, tuple[str, int] | None]:
        issue = facts.issue
        if kind in ("add_labels", "remove_labels"):
            return {"labels": list(getattr(step, kind))}, None, None
        if kind == "set_health":
            spec = step.set_health
            health = spec if isinstance(spec, HealthSpec) else HealthSpec(status=spec)
            status = None if health.status == "clear" else health.status
            # The sprint the item is in when its health changes: the dashboard's health chart.
            return {"status": status, "mode": health.mode, "sprint": _sprint(facts)}, None, None
        if kind == "comment":
            spec_c = step.comment
            comment = spec_c if isinstance(spec_c, CommentSpec) else CommentSpec(body=str(spec_c))
            target = _parse_target(comment.target) if comment.target else None
            if (
                target is not None
                and issue is not None
                and issue.confidential
                and f"{target[0]}#{target[1]}" != issue.subject
                and not rule.allow_confidential_leak
            ):
                raise PlanError(
                    f"refused: comment would carry text of confidential {issue.subject} to "
                    f"{comment.target}; set allow_confidential_leak: true to allow it"
                )
            return {"internal": comment.internal}, self.render(comment.body, rule, facts), target
        if kind == "move_to_milestone":
            return self._milestone_move(str(step.move_to_milestone), facts), None, None
        if kind == "set_iteration":
            return self._iteration(step.set_iteration, facts), None, None
        if kind == "create_issue":
            assert step.create_issue is not None
            return (
                self._create_issue(rule, step.create_issue, facts),
                self.render(step.create_issue.description, rule, facts),
                None,
            )
        if kind == "assign":
            return {"usernames": [u.lstrip("@") for u in step.assign or []]}, None, None
        return {}, None, None  # close, reopen

    def _milestone_move(self, where: str, facts: Facts) -> dict[str, Any]:
        current = facts.milestone
        base = {"from_title": current.title if current else None}
        if where == "none":
            return {**base, "milestone_id": None, "milestone_title": None}
        milestones = facts.milestones
        if where == "next":
            after = current or current_milestone(milestones, self.today)
            target = next_milestone(milestones, after, self.today)
            if target is None:
                after_what = f"'{after.title}'" if after else str(self.today)
                raise PlanError(f"no milestone after {after_what} in {facts.project} to move to")
        else:
            target = next((m for m in milestones if m.title == where), None)
            if target is None:
                raise PlanError(f"no milestone titled {where!r} in {facts.project}")
        return {**base, "milestone_id": target.id, "milestone_title": target.title}

    def _iteration(self, where: str | int | None, facts: Facts) -> dict[str, Any]:
        if isinstance(where, int) or (isinstance(where, str) and where.isdigit()):
            return {"iteration_id": int(where), "iteration_title": None}
        iterations = self.reader.iterations(facts.project)
        upcoming = sorted(
            (i for i in iterations if i.start_date and i.start_date > self.today),
            key=lambda i: (i.start_date, i.id),
        )
        if not upcoming:
            raise PlanError(f"no upcoming iteration in {facts.project}")
        return {"iteration_id": upcoming[0].id, "iteration_title": upcoming[0].title}

    def _create_issue(self, rule: Rule, spec: CreateIssueSpec, facts: Facts) -> dict[str, Any]:
        issue = facts.issue
        milestone_id = None
        if spec.milestone:
            ms = self.milestones(spec.project)
            if spec.milestone == "current":
                found = current_milestone(ms, self.today)
            elif spec.milestone == "next":
                found = next_milestone(ms, current_milestone(ms, self.today), self.today)
            else:
                found = next((m for m in ms if m.title == spec.milestone), None)
            if found is None:
                raise PlanError(f"no milestone {spec.milestone!r} in {spec.project}")
            milestone_id = found.id
        link = None
        if issue is not None and spec.link != "none":
            link = {"link_type": spec.link}
        return {
            "project": spec.project,
            "title": self.render(spec.title, rule, facts),
            "labels": list(spec.labels),
            "assignees": [
                name.strip().lstrip("@")
                for a in spec.assignees
                if (name := self.render(a, rule, facts)).strip()
            ],
            "milestone_id": milestone_id,
            "due_date": (self.today + timedelta(days=spec.due_in_days)).isoformat()
            if spec.due_in_days is not None
            else None,
            "confidential": spec.confidential or bool(issue and issue.confidential),
            "link": link,
        }

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


def _parse_target(target: str) -> tuple[str, int]:
    project, _, iid = target.rpartition("#")
    if not project or not iid.isdigit():
        raise PlanError(f"comment target {target!r} must look like 'group/project#12'")
    return project, int(iid)


_HEALTH_ORDER = {"at_risk": 0, "needs_attention": 1, "on_track": 2, None: 3}


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
            rank = _HEALTH_ORDER.get(a.params.get("status"), 3)
            if kept is None or rank < _HEALTH_ORDER.get(kept.params.get("status"), 3):
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
            f"gave way on {subject}: {kept.rule} sets {kept.params.get('status')} "
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
