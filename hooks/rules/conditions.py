"""Where a rule is matched: conditions as pure functions of the facts about one subject.

`first_failure` returns None when the condition holds, else a short readable reason
naming the first test that failed; the trace shows it to whoever asks "why (not)?".
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from fnmatch import fnmatchcase
from functools import cached_property
from typing import Any

from hooks.rules import templates
from hooks.rules.comments import Command, search
from hooks.rules.model import AgeTest, Condition, DateTest, LabelSet, MilestoneTest
from hooks.rules.reader import (
    IssueInfo,
    MilestoneInfo,
    StatusInfo,
    current_milestone,
    next_milestone,
)
from hooks.rules.status_conditions import StatusChange, status_change_failure, status_failure
from hooks.rules.vocabulary import ACCESS_LEVELS, role_name

_RELATIVE = re.compile(r"^([+-]?)(\d+)([dw])$")


def relative_day(text: str, today: date) -> date:
    """'today', '+3d', '-1w', '3d' or an ISO date, as a date."""
    text = text.strip()
    if text == "today":
        return today
    match = _RELATIVE.match(text)
    if match:
        sign = -1 if match.group(1) == "-" else 1
        days = int(match.group(2)) * (7 if match.group(3) == "w" else 1)
        return today + timedelta(days=sign * days)
    return date.fromisoformat(text)


def duration(text: str) -> timedelta:
    """'3d', '12h', '2w', '30m' as a timedelta."""
    match = re.match(r"^(\d+)([mhdw])$", text.strip())
    if not match:
        raise ValueError(f"bad duration {text!r}: use a number and m, h, d or w ('3d')")
    unit = {"m": 60, "h": 3600, "d": 86400, "w": 604800}[match.group(2)]
    return timedelta(seconds=int(match.group(1)) * unit)


@dataclass
class Facts:
    """What is known about one subject while a rule is evaluated."""

    kind: str
    action: str | None
    project: str
    now: datetime
    today: date
    issue: IssueInfo | None = None
    event_milestone: MilestoneInfo | None = None
    sprint_iteration: MilestoneInfo | None = None  # the iteration a for_each listed it from
    release_tag: str | None = None
    event_project: str | None = None
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: set[str] = field(default_factory=set)
    load_milestones: Callable[[], list[MilestoneInfo]] = list
    load_project_milestones: Callable[[str], list[MilestoneInfo]] = lambda _project: []
    scope: Callable[[frozenset[str] | None], dict[str, Any]] = lambda _wanted: {}
    # note and emoji events: the comment's text, a command in it, the emoji, who acted
    comment: str | None = None
    command: Command | None = None
    emoji: str | None = None
    actor: str | None = None
    # The actor's access level in the project; read (and cached) only when a rule asks.
    load_access: Callable[[], int | None] = lambda: None
    # The comment is internal or on a confidential issue: its text stays in its issue;
    # an internal one on a public issue is quoted only in internal notes.
    private_text: bool = False
    internal_comment: bool = False

    @cached_property
    def access(self) -> int | None:
        return self.load_access()

    load_status: Callable[[], StatusInfo | None] = lambda: None
    status_change: StatusChange | None = None  # (from, to) when the payload carries it

    @cached_property
    def status(self) -> StatusInfo | None:
        """The subject's work item status, read once (webhooks carry none)."""
        return self.load_status()

    @cached_property
    def milestones(self) -> list[MilestoneInfo]:
        return self.load_milestones()

    @cached_property
    def milestone(self) -> MilestoneInfo | None:
        """The subject's milestone: the issue's (resolved by id), or the event's own."""
        if self.issue is None:
            return self.event_milestone
        known = self.issue.milestone
        if known is None:
            return None
        if known.start_date is not None or known.due_date is not None:
            return known
        return next((m for m in self.milestones if m.id == known.id), known)

    def milestone_if_read(self) -> MilestoneInfo | None:
        """The subject's milestone as far as known without another GitLab read."""
        if "milestone" in self.__dict__ or "milestones" in self.__dict__:
            return self.milestone  # resolved already, or resolvable from the loaded list
        return self.issue.milestone if self.issue is not None else self.event_milestone

    @property
    def labels(self) -> list[str]:
        return self.issue.labels if self.issue else []


_GLOB = re.compile(r"[*?\[]")


def _has(labels: Sequence[str], pattern: str) -> bool:
    if not _GLOB.search(pattern):
        return pattern in labels
    return any(fnmatchcase(label, pattern) for label in labels)


def _labels(test: LabelSet | list[str], labels: Sequence[str]) -> str | None:
    every, some, none = (
        (test, (), ()) if isinstance(test, list) else (test.all, test.any, test.none)
    )
    for pattern in every:
        if not _has(labels, pattern):
            return f"labels: '{pattern}' is missing"
    if some and not any(_has(labels, p) for p in some):
        return f"labels: none of {list(some)} is present"
    for pattern in none:
        if _has(labels, pattern):
            return f"labels: '{pattern}' is present"
    return None


def _date(name: str, test: DateTest, value: date | None, today: date) -> str | None:
    if test.none is not None and (value is None) != test.none:
        return f"{name}: {'is set' if value else 'is not set'}"
    if value is None:
        if test.before or test.after or test.within:
            return f"{name}: is not set"
        return None
    if test.before and not value < relative_day(test.before, today):
        return f"{name}: {value} is not before {test.before}"
    if test.after and not value > relative_day(test.after, today):
        return f"{name}: {value} is not after {test.after}"
    if test.within and not (today <= value <= today + duration(test.within)):
        return f"{name}: {value} is not within {test.within} of today"
    return None


def _age(test: AgeTest, when: datetime | None, now: datetime) -> str | None:
    if when is None:
        return "updated: unknown"
    age = now - when
    if test.older_than and not age > duration(test.older_than):
        return f"updated: {age.days}d ago, not older than {test.older_than}"
    if test.within and not age <= duration(test.within):
        return f"updated: {age.days}d ago, not within {test.within}"
    return None


def _milestone(test: MilestoneTest, facts: Facts) -> str | None:
    m = facts.milestone
    if test.none is not None and (m is None) != test.none:
        return "milestone: is set" if m else "milestone: none"
    if test.any is not None and (m is not None) != test.any:
        return "milestone: none" if m is None else "milestone: is set"
    needs_one = any(
        v is not None
        for v in (
            test.title,
            test.current,
            test.next,
            test.due_within,
            test.expired,
            test.state,
            test.of,
        )
    )
    if m is None:
        return "milestone: none" if needs_one or test.has_next is not None else None
    if test.of and all(seen.id != m.id for seen in facts.load_project_milestones(test.of)):
        owner = m.group or m.project or "another project"
        return f"milestone: '{m.title}' ({owner}) is not one of {test.of}'s milestones"
    if test.title and not fnmatchcase(m.title, test.title):
        return f"milestone: '{m.title}' does not match '{test.title}'"
    if test.state and m.state != test.state:
        return f"milestone: '{m.title}' is {m.state}, not {test.state}"
    if test.current is not None:
        current = current_milestone(facts.milestones, facts.today)
        if (current is not None and current.id == m.id) != test.current:
            return f"milestone: '{m.title}' is {'' if test.current is False else 'not '}current"
    if test.next is not None:
        upcoming = next_milestone(
            facts.milestones, current_milestone(facts.milestones, facts.today), facts.today
        )
        if (upcoming is not None and upcoming.id == m.id) != test.next:
            return f"milestone: '{m.title}' is {'' if test.next is False else 'not '}the next one"
    if test.expired is not None:
        expired = m.due_date is not None and m.due_date < facts.today
        if expired != test.expired:
            return f"milestone: '{m.title}' is {'' if expired else 'not '}past its due date"
    if test.due_within and (
        m.due_date is None
        or not (facts.today <= m.due_date <= facts.today + duration(test.due_within))
    ):
        return f"milestone: '{m.title}' is not due within {test.due_within}"
    if test.has_next is not None:
        has = next_milestone(facts.milestones, m, facts.today) is not None
        if has != test.has_next:
            return f"milestone: there is {'a' if has else 'no'} later milestone than '{m.title}'"
    return None


def first_failure(cond: Condition, facts: Facts) -> str | None:
    """None when `cond` holds for these facts, else why not.

    Plain tests run first, then all/any/not, then `expr`: the cheap ones usually decide.
    """
    issue = facts.issue
    if cond.state and (issue is None or issue.state != cond.state):
        return f"state: {issue.state if issue else 'no issue'}, not {cond.state}"
    if cond.labels is not None:
        reason = _labels(cond.labels, facts.labels)
        if reason:
            return reason
    if cond.forbidden_labels:
        for pattern in cond.forbidden_labels:
            if _has(facts.labels, pattern):
                return f"forbidden_labels: '{pattern}' is present"
    if cond.label_added is not None and not any(_has(facts.added, p) for p in cond.label_added):
        return f"label_added: none of {cond.label_added} was added"
    if cond.label_removed is not None and not any(
        _has(facts.removed, p) for p in cond.label_removed
    ):
        return f"label_removed: none of {cond.label_removed} was removed"
    if cond.changed is not None and not facts.changed.intersection(cond.changed):
        return f"changed: none of {cond.changed} changed"
    if cond.due_date is not None:
        reason = _date("due_date", cond.due_date, issue.due_date if issue else None, facts.today)
        if reason:
            return reason
    if cond.updated is not None:
        reason = _age(cond.updated, issue.updated_at if issue else None, facts.now)
        if reason:
            return reason
    if cond.milestone is not None:
        reason = _milestone(cond.milestone, facts)
        if reason:
            return reason
    if cond.iteration is not None:
        title = issue.iteration_title if issue else None
        has = issue is not None and issue.iteration_id is not None
        if cond.iteration.none is not None and (not has) != cond.iteration.none:
            return "iteration: is set" if has else "iteration: none"
        if cond.iteration.title and not (title and fnmatchcase(title, cond.iteration.title)):
            return f"iteration: {title!r} does not match '{cond.iteration.title}'"
    if cond.health is not None:
        status = (issue.health_status if issue else None) or "none"
        if status not in cond.health:
            return f"health: {status}, not one of {cond.health}"
    if cond.status is not None:
        reason = status_failure(cond.status, facts.status)
        if reason:
            return reason
    if cond.status_changed is not None:
        reason = status_change_failure(cond.status_changed, facts.status_change)
        if reason:
            return reason
    if cond.author is not None:
        author = issue.author if issue else None
        if author not in cond.author:
            return f"author: {author or 'unknown'} is not one of {cond.author}"
    if cond.assignees is not None:
        assigned = issue.assignees if issue else []
        if cond.assignees.none is not None and (not assigned) != cond.assignees.none:
            return "assignees: someone is assigned" if assigned else "assignees: nobody"
        if cond.assignees.any and not set(assigned).intersection(cond.assignees.any):
            return f"assignees: none of {cond.assignees.any} is assigned"
    if cond.project and not fnmatchcase(facts.project, cond.project):
        return f"project: {facts.project} does not match '{cond.project}'"
    if cond.event_project and not fnmatchcase(facts.event_project or "", cond.event_project):
        source = facts.event_project or "no project (a group's event)"
        return f"event_project: {source} does not match '{cond.event_project}'"
    if cond.confidential is not None:
        confidential = bool(issue and issue.confidential) or facts.kind == "confidential_issue"
        if confidential != cond.confidential:
            return f"confidential: {str(confidential).lower()}"
    if cond.release_tag and not (
        facts.release_tag and fnmatchcase(facts.release_tag, cond.release_tag)
    ):
        return f"release_tag: {facts.release_tag!r} does not match '{cond.release_tag}'"
    reason = _said(cond, facts)
    if reason:
        return reason
    if cond.all is not None:
        for sub in cond.all:
            reason = first_failure(sub, facts)
            if reason:
                return reason
    if cond.any is not None:
        reasons = [first_failure(sub, facts) for sub in cond.any]
        if all(reasons):
            return "any: " + "; ".join(r for r in reasons if r)
    if cond.not_ is not None and first_failure(cond.not_, facts) is None:
        return "not: the negated condition holds"
    if cond.expr and not templates.evaluate(
        cond.expr, facts.scope(templates.variables("{{ " + cond.expr + " }}"))
    ):
        return f"expr: {cond.expr} is false"
    return None


def _said(cond: Condition, facts: Facts) -> str | None:
    """The comment, command, emoji and access tests (note and emoji events)."""
    if cond.comment is not None:
        if facts.comment is None:
            return f"comment: a {facts.kind} event has no comment"
        if not search(cond.comment.matches, facts.comment):
            return (
                f"comment: {len(facts.comment)} characters, no match for {cond.comment.matches!r}"
            )
    if cond.command is not None:
        command = facts.command
        if command is None:
            return "command: the comment has no line starting with a mention of the bot"
        pattern = cond.command.matches
        if pattern is not None and command.too_long:  # no pattern is searched in a long one
            return f"command: {command.length} characters, longer than a command may be"
        if pattern is not None and not search(pattern, command.text, ignore_case=True):
            return f"command: {command.name!r}... does not match {pattern!r}"
    if cond.emoji is not None:
        wanted = ([cond.emoji.name] if cond.emoji.name else []) + cond.emoji.any
        if facts.emoji is None:
            return f"emoji: a {facts.kind} event has no emoji"
        if wanted and facts.emoji not in wanted:
            return f"emoji: {facts.emoji}, not one of {wanted}"
    if cond.author_access is not None:
        level = facts.access
        if level is None or level < ACCESS_LEVELS[cond.author_access]:
            who = f"@{facts.actor}" if facts.actor else "the event's user"
            return f"author_access: {who} is {role_name(level)}, not {cond.author_access} or above"
    return None
