"""`preview()`: plan the recorded history with the live and the candidate rules, and diff.

The planning is the engine's own (`hooks.rules.engine.plan` and `plan_schedule`, as the
processor and the scheduler call them); it runs in a worker thread, since the engine reads
GitLab synchronously. Nothing is executed and nothing is written.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hooks.events import Event, EventParseError, parse_event
from hooks.preview.diff import Occurrence, diff, once_per_key
from hooks.preview.reading import CachingReader
from hooks.preview.report import GitlabReads, PreviewReport, RuleErrorCount
from hooks.preview.restore import RestoringReader
from hooks.rules.engine import Plan, plan, plan_schedule
from hooks.rules.keys import event_fingerprint
from hooks.rules.model import Rule, RuleSet
from hooks.rules.reader import Reader
from hooks.schedules.triggers import occurrences_between
from hooks.storage.history import BotEdit, Recorded, bot_edits_since, recorded_between
from hooks.storage.store import Store


@dataclass
class _Side:
    """One rule set's plans of the whole history."""

    rules: RuleSet
    occurrences: list[Occurrence] = field(default_factory=list)
    errors: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))

    def add(self, source: str, the_plan: Plan) -> None:
        self.occurrences.extend(Occurrence(source, a) for a in the_plan.actions)
        for t in the_plan.trace:
            if t.error:
                self.errors[t.rule].append(t.error)


@dataclass(frozen=True)
class Fire:
    """A scheduled rule's fire time, by that side's own schedule of it."""

    rule: Rule
    at: datetime
    zone: ZoneInfo


def fires_between(rules: RuleSet, start: datetime, end: datetime, default_tz: str) -> list[Fire]:
    """Every fire time of every scheduled rule in (start, end]."""
    found = []
    for rule in rules.scheduled():
        schedule = rule.on.schedule
        assert schedule is not None
        zone = ZoneInfo(schedule.timezone or default_tz)
        found += [
            Fire(rule, at, zone) for at in occurrences_between(schedule, start, end, default_tz)
        ]
    return found


def _plan_history(
    events: list[tuple[Recorded, Event]],
    sides: Iterable[tuple[_Side, list[Fire]]],
    reader: Reader,
) -> None:
    """Plan each event, and each fire of the side's own schedules, with each side's rules,
    oldest first (so the first of two actions with one key is the one kept)."""
    # An event's fingerprint (a digest of its content) is the same for both sides.
    fingerprints = {id(e): event_fingerprint(e) for _, e in events}
    for side, fires in sides:
        timeline: list[tuple[datetime, str, Event | Fire]] = [
            (r.received_at, f"delivery {r.id}", e) for r, e in events
        ]
        timeline += [(f.at.astimezone(UTC), fire_source(f), f) for f in fires]
        timeline.sort(key=lambda t: t[0])
        for when, source, item in timeline:
            if isinstance(item, Fire):
                side.add(
                    source,
                    plan_schedule(
                        item.rule,
                        item.at,
                        reader,
                        now=when,
                        today=item.at.astimezone(item.zone).date(),
                        variables=side.rules.vars,
                    ),
                )
            else:
                fingerprint = fingerprints[id(item)]
                side.add(source, plan(item, side.rules, reader, now=when, fingerprint=fingerprint))


def fire_source(fire: Fire) -> str:
    return f"schedule {fire.rule.name}@{fire.at.isoformat()}"


def error_counts(
    live: dict[str, list[str]], candidate: dict[str, list[str]]
) -> list[RuleErrorCount]:
    """Rules not evaluated for some events, per side; once when both sides agree."""
    found = []
    for rule in sorted(set(live) | set(candidate)):
        old, new = live.get(rule, []), candidate.get(rule, [])
        if old and new and len(old) == len(new):
            found.append(RuleErrorCount(rule=rule, side="both", events=len(old), first=old[0]))
            continue
        if old:
            found.append(RuleErrorCount(rule=rule, side="live", events=len(old), first=old[0]))
        if new:
            found.append(RuleErrorCount(rule=rule, side="candidate", events=len(new), first=new[0]))
    return found


def rules_changed(live: RuleSet, candidate: RuleSet) -> dict[str, str]:
    """Which rules the candidate adds, removes or changes, by name."""
    old = {r.name: r for r in live.rules}
    new = {r.name: r for r in candidate.rules}
    changed = {n: "removed" for n in old if n not in new}
    changed |= {n: "added" for n in new if n not in old}
    changed |= {n: "changed" for n in new if n in old and new[n] != old[n]}
    if live.vars != candidate.vars:
        changed |= {"vars:": "changed"}
    return dict(sorted(changed.items()))


async def preview(
    store: Store,
    reader: Reader,
    live: RuleSet,
    candidate: RuleSet,
    *,
    since: timedelta,
    now: datetime,
    gitlab_url: str = "https://gitlab.com",
    default_tz: str = "UTC",
    online: bool = True,
) -> PreviewReport:
    """Plan every delivery recorded in (now - since, now] and every scheduled fire in it
    with both rule sets; the report says what the candidate would add, remove or alter.

    `reader` reads GitLab's current state (read-only; each subject once for the whole
    preview); `online=False` says it is the offline reader (no token), so the report tells
    rules that read GitLab were not evaluated.
    """
    start = now - since
    recorded = await recorded_between(store.db, start, now)
    edits = await bot_edits_since(store.db, start)
    return await asyncio.to_thread(
        plan_and_diff,
        recorded,
        reader,
        live,
        candidate,
        start=start,
        now=now,
        gitlab_url=gitlab_url,
        default_tz=default_tz,
        online=online,
        edits=edits,
    )


def plan_and_diff(
    recorded: list[Recorded],
    reader: Reader,
    live: RuleSet,
    candidate: RuleSet,
    *,
    start: datetime,
    now: datetime,
    gitlab_url: str,
    default_tz: str,
    online: bool,
    edits: list[BotEdit] | None = None,
) -> PreviewReport:
    """The synchronous core of `preview`. `edits`: the bot's own moves and label changes in
    the window (the action ledger), undone in what the rules read (hooks.preview.restore)."""
    cached = CachingReader(reader)
    restoring = RestoringReader(cached, edits or [])
    events: list[tuple[Recorded, Event]] = []
    own = unreadable = 0
    for r in recorded:
        if r.own_event:
            own += 1
            continue
        try:
            events.append((r, parse_event(r.event_header, r.body)))
        except EventParseError:
            unreadable += 1
    live_fires = fires_between(live, start, now, default_tz)
    candidate_fires = fires_between(candidate, start, now, default_tz)
    sides = (_Side(live), _Side(candidate))
    _plan_history(events, [(sides[0], live_fires), (sides[1], candidate_fires)], restoring)
    report = PreviewReport(
        since=start.astimezone(UTC).isoformat(),
        until=now.astimezone(UTC).isoformat(),
        deliveries=len(events),
        skipped_own_events=own,
        unreadable=unreadable,
        scheduled_fires=len({fire_source(f) for f in live_fires + candidate_fires}),
        live_actions=len(once_per_key(sides[0].occurrences)),
        candidate_actions=len(once_per_key(sides[1].occurrences)),
        rules_changed=rules_changed(live, candidate),
        rules=diff(sides[0].occurrences, sides[1].occurrences, gitlab_url=gitlab_url),
        errors=error_counts(sides[0].errors, sides[1].errors),
        gitlab=GitlabReads(
            online=online,
            subjects=len(cached.log.subjects),
            repeats_served_from_cache=cached.log.hits,
            failures=[f"{k}: {v}" for k, v in cached.log.failures.items()] if online else [],
            read=sorted(cached.log.subjects) if online else [],
            restored=sorted(restoring.restored),
        ),
    )
    return report
