"""Sprint health over time, derived from the actions ledger (no extra bookkeeping).

Each `set_health` action records the sprint its item was in (the executor's result, else
the plan's parameters); a roll-over
(`move_to_milestone` away from a sprint) takes the item out of that sprint's counts.
Only items the bot has set a health on are counted: it is the bot's view of the sprint.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from hooks.storage.actions import ActionRow

LEVELS = ("on_track", "needs_attention", "at_risk")
# Outcomes that mean the item has (or, in dry-run, would have) this health.
COUNTED = ("done", "satisfied", "dry_run")
KINDS = ("set_health", "move_to_milestone")


@dataclass(frozen=True)
class SprintHealth:
    """Per day, how many of a sprint's items were at each health level."""

    sprint: str
    days: list[date]
    counts: dict[str, list[int]]
    last_activity: datetime

    @property
    def now(self) -> dict[str, int]:
        return {level: values[-1] for level, values in self.counts.items()}


def _moves_out(row: ActionRow) -> str | None:
    source = row.params.get("from_title")
    if row.action == "move_to_milestone" and source and source != row.params.get("milestone_title"):
        return str(source)
    return None


def sprint_health(
    rows: Sequence[ActionRow], today: date, *, days: int = 14, sprints: int = 4
) -> list[SprintHealth]:
    """The `sprints` sprints with the latest health activity, counted per day up to today."""
    ordered = sorted((r for r in rows if r.status in COUNTED), key=lambda r: r.updated_at)
    latest: dict[str, datetime] = {}
    replay = _Membership()
    for row in ordered:
        sprint = replay.apply(row)
        if sprint:
            latest[sprint] = row.updated_at
    chosen = sorted(latest, key=lambda s: latest[s], reverse=True)[:sprints]
    window = [today - timedelta(days=days - 1 - i) for i in range(days)]
    members = _Membership()
    series = {s: {level: [0] * days for level in LEVELS} for s in chosen}
    position = 0
    for index, day in enumerate(window):
        while position < len(ordered) and ordered[position].updated_at.date() <= day:
            members.apply(ordered[position])
            position += 1
        for sprint in chosen:
            tally = Counter(members.state[sprint].values())
            for level in LEVELS:
                series[sprint][level][index] = tally[level]
    return [SprintHealth(s, window, series[s], latest[s]) for s in chosen]


class _Membership:
    """Which sprint each item is in, and at which health, as the ledger replays."""

    def __init__(self) -> None:
        self.state: dict[str, dict[str, str]] = defaultdict(dict)  # sprint -> subject -> level
        self.moved: dict[str, tuple[str, str]] = {}  # subject -> (from sprint, to sprint)

    def apply(self, row: ActionRow) -> str | None:
        """Replay one action; return the sprint whose health it set, if any."""
        subject = row.subject or ""
        if row.action == "set_health":
            # The executor's answer names the milestone the item was in when it acted (when it
            # read the issue); else the one the plan saw.
            sprint = (row.result or {}).get("milestone") or row.params.get("sprint")
            level = row.params.get("status")
            # A roll-over plans its health change before the move lands: it is about the
            # sprint the item went to.
            left, went_to = self.moved.get(subject, ("", ""))
            sprint = went_to if sprint and sprint == left else sprint
            for members in self.state.values():  # an item is in one sprint at a time
                members.pop(subject, None)
            if sprint and level in LEVELS:
                self.state[str(sprint)][subject] = str(level)
                return str(sprint)
        elif (source := _moves_out(row)) is not None:
            self.state[source].pop(subject, None)
            self.moved[subject] = (source, str(row.params.get("milestone_title") or ""))
        return None


def rollovers(rows: Sequence[ActionRow]) -> list[tuple[str, int]]:
    """How many items were rolled over out of each sprint, oldest sprint first."""
    moved: dict[str, set[str]] = {}
    for row in sorted(rows, key=lambda r: r.updated_at):
        source = _moves_out(row) if row.status in COUNTED else None
        if source is not None:
            moved.setdefault(source, set()).add(row.subject or "")
    return [(sprint, len(subjects)) for sprint, subjects in moved.items()]
