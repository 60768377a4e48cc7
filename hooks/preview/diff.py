"""The difference between two plans of the same history: pure functions, no I/O.

Each planned action is known by where it came from (a delivery or a scheduled fire), its
rule, its kind and its subject (the n-th such action when a rule plans several): present
only on the candidate side it is *added*, only on the live side *removed*, on both with other
parameters or text *altered*. Each side first keeps one action per idempotency key, as the
action ledger would: a roll-over planned by the milestone close and again by the daily sweep
acts once.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from hooks.actions.base import PlannedAction
from hooks.actions.registry import KINDS
from hooks.preview.report import (
    CHANGES,
    SUBJECTS_SHOWN,
    Change,
    ChangeGroup,
    RuleDiff,
    SubjectChange,
)

SHOWN_CHARS = 160


@dataclass(frozen=True)
class Occurrence:
    """One planned action and the event or fire that planned it."""

    source: str
    action: PlannedAction


Identity = tuple[str, str, str, str, int]


def once_per_key(occurrences: Iterable[Occurrence]) -> list[Occurrence]:
    """The first occurrence of each idempotency key (history is given oldest first)."""
    seen: set[str] = set()
    kept = []
    for o in occurrences:
        if o.action.key not in seen:
            seen.add(o.action.key)
            kept.append(o)
    return kept


def subject_of(action: PlannedAction) -> str:
    """The issue acted on, or for a new issue the project it is created in."""
    if action.subject:
        return action.subject
    return f"{action.project} (new issue)" if action.project else "-"


def _full(action: PlannedAction) -> str:
    kind = KINDS.get(action.action)
    shown = kind.shown(kind.typed(action.args), action.text) if kind else None
    return " ".join((shown or "").split())


def _cut(text: str, start: int) -> str:
    """SHOWN_CHARS of `text` from `start`, with an ellipsis where something is left out."""
    part = text[start : start + SHOWN_CHARS]
    return ("…" if start else "") + part + ("…" if start + SHOWN_CHARS < len(text) else "")


def describe(action: PlannedAction, other: PlannedAction | None = None) -> str:
    """The action on one line; beside `other` (its altered counterpart), from a little
    before the first place they differ, so a change deep in a long comment shows."""
    text = _full(action)
    start = 0
    if other is not None:
        theirs = _full(other)
        first = next(
            (i for i, (a, b) in enumerate(zip(text, theirs, strict=False)) if a != b),
            min(len(text), len(theirs)),
        )
        start = max(0, first - SHOWN_CHARS // 4) if first > SHOWN_CHARS // 2 else 0
    mark = " (dry-run)" if action.dry_run else ""
    return f"{action.action}: {_cut(text, start)}{mark}" if text else f"{action.action}{mark}"


def web_url(gitlab_url: str, action: PlannedAction) -> str | None:
    """The GitLab page of the subject: the issue, or the project a new issue goes to."""
    base = gitlab_url.rstrip("/")
    if action.project and action.iid is not None:
        return f"{base}/{action.project}/-/issues/{action.iid}"
    if action.project:
        return f"{base}/{action.project}/-/issues"
    return None


def _identified(occurrences: Sequence[Occurrence]) -> dict[Identity, Occurrence]:
    counts: dict[tuple[str, str, str, str], int] = defaultdict(int)
    found: dict[Identity, Occurrence] = {}
    for o in occurrences:
        base = (o.source, o.action.rule, o.action.action, subject_of(o.action))
        found[(*base, counts[base])] = o
        counts[base] += 1
    return found


def _natural(subject: str) -> tuple[str, int, str]:
    """demo/product#2 before demo/product#10."""
    path, _, rest = subject.partition("#")
    return (path, int(rest), "") if rest.isdigit() else (path, -1, rest)


def _same(a: PlannedAction, b: PlannedAction) -> bool:
    return (a.params, a.text, a.dry_run) == (b.params, b.text, b.dry_run)


def diff(
    live: Sequence[Occurrence], candidate: Sequence[Occurrence], *, gitlab_url: str
) -> list[RuleDiff]:
    """Actions the candidate adds, removes or alters, grouped by rule (in name order)."""
    before = _identified(once_per_key(live))
    after = _identified(once_per_key(candidate))
    # rule -> change -> subject -> (url, before, after, sources); an action count per group
    grouped: dict[str, dict[Change, dict[str, SubjectChange]]] = defaultdict(
        lambda: defaultdict(dict)
    )
    counted: dict[tuple[str, Change], int] = defaultdict(int)

    def note(change: Change, old: Occurrence | None, new: Occurrence | None) -> None:
        o = new or old
        assert o is not None
        rule, subject = o.action.rule, subject_of(o.action)
        entry = grouped[rule][change].get(subject)
        if entry is None:
            entry = grouped[rule][change][subject] = SubjectChange(
                subject=subject, url=web_url(gitlab_url, o.action)
            )
        if old is not None:
            entry.before.append(describe(old.action, new.action if new else None))
        if new is not None:
            entry.after.append(describe(new.action, old.action if old else None))
        if o.source not in entry.sources:
            entry.sources.append(o.source)
        counted[rule, change] += 1

    for identity, old in before.items():
        new = after.get(identity)
        if new is None:
            note("removed", old, None)
        elif not _same(old.action, new.action):
            note("altered", old, new)
    for identity, new in after.items():
        if identity not in before:
            note("added", None, new)

    diffs = []
    for rule in sorted(grouped):
        result = RuleDiff(rule=rule)
        for change in CHANGES:
            subjects = grouped[rule].get(change, {})
            if not subjects:
                continue
            ordered = sorted(subjects.values(), key=lambda s: _natural(s.subject))
            setattr(
                result,
                change,
                ChangeGroup(
                    actions=counted[rule, change],
                    subjects=len(ordered),
                    shown=ordered[:SUBJECTS_SHOWN],
                ),
            )
        diffs.append(result)
    return diffs
