"""What a preview found, and its text, Markdown and JSON renderings."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

Change = Literal["added", "removed", "altered"]
CHANGES: tuple[Change, ...] = ("added", "removed", "altered")
SUBJECTS_SHOWN = 20  # per rule and kind of change; the count says how many there are


class SubjectChange(BaseModel):
    """One subject's changed actions under one rule: what the live rules do and the new ones."""

    subject: str
    url: str | None = None
    before: list[str] = Field(default_factory=list)  # actions of the live rules
    after: list[str] = Field(default_factory=list)  # actions of the candidate rules
    sources: list[str] = Field(default_factory=list)  # deliveries / scheduled fires


class ChangeGroup(BaseModel):
    """Actions of one kind of change under one rule: the count, and up to 20 subjects."""

    actions: int = 0
    subjects: int = 0
    shown: list[SubjectChange] = Field(default_factory=list)


class RuleDiff(BaseModel):
    rule: str
    added: ChangeGroup = Field(default_factory=ChangeGroup)
    removed: ChangeGroup = Field(default_factory=ChangeGroup)
    altered: ChangeGroup = Field(default_factory=ChangeGroup)

    def group(self, change: Change) -> ChangeGroup:
        found: ChangeGroup = getattr(self, change)
        return found


class RuleErrorCount(BaseModel):
    """A rule that could not be planned for some events, on one side."""

    rule: str
    side: Literal["live", "candidate", "both"]
    events: int
    first: str


class GitlabReads(BaseModel):
    """What the preview read of GitLab: today's state, read-only, once per subject."""

    online: bool
    subjects: int = 0
    repeats_served_from_cache: int = 0
    failures: list[str] = Field(default_factory=list)
    read: list[str] = Field(default_factory=list)
    # Items the bot moved out of a sprint in the window, planned as they were before.
    restored: list[str] = Field(default_factory=list)


class PreviewReport(BaseModel):
    """A candidate rule set planned against the recorded history beside the live one."""

    since: str  # ISO 8601, start of the window
    until: str
    deliveries: int = 0
    skipped_own_events: int = 0
    unreadable: int = 0
    scheduled_fires: int = 0
    live_actions: int = 0
    candidate_actions: int = 0
    rules_changed: dict[str, str] = Field(default_factory=dict)  # name -> added|removed|changed
    rules: list[RuleDiff] = Field(default_factory=list)
    errors: list[RuleErrorCount] = Field(default_factory=list)
    gitlab: GitlabReads = Field(default_factory=lambda: GitlabReads(online=False))
    validation_errors: list[str] = Field(default_factory=list)
    examples_passed: int = 0

    @classmethod
    def invalid(cls, errors: list[str], *, since: datetime, now: datetime) -> PreviewReport:
        """The report on a candidate that does not validate: its errors, nothing planned."""
        return cls(
            since=since.astimezone(UTC).isoformat(),
            until=now.astimezone(UTC).isoformat(),
            validation_errors=list(errors) or ["the candidate rules do not validate"],
        )

    @property
    def valid(self) -> bool:
        return not self.validation_errors

    @property
    def has_differences(self) -> bool:
        """An action added, removed or altered, or a rule failing differently than before."""
        if any(r.group(c).actions for r in self.rules for c in CHANGES):
            return True
        live = {(e.rule, e.events) for e in self.errors if e.side == "live"}
        candidate = {(e.rule, e.events) for e in self.errors if e.side == "candidate"}
        return live != candidate

    # -- renderings -----------------------------------------------------------------

    def to_json(self) -> str:
        document: dict[str, Any] = self.model_dump(mode="json")
        document["has_differences"] = self.has_differences
        document["valid"] = self.valid
        return json.dumps(document, indent=2, sort_keys=False)

    def summary(self) -> str:
        if not self.valid:
            return f"the new rules do not validate: {len(self.validation_errors)} error(s)"
        changed = sum(r.group(c).actions for r in self.rules for c in CHANGES)
        head = (
            f"{changed} action(s) would change in {len(self.rules)} rule(s)"
            if changed
            else "no action would change"
        )
        return (
            f"{head}: {self.deliveries} deliveries and {self.scheduled_fires} scheduled fires "
            f"from {self.since[:16]} to {self.until[:16]} UTC planned with the live rules "
            f"({self.live_actions} actions) and the new ones ({self.candidate_actions})"
        )

    def _gitlab_line(self) -> str:
        g = self.gitlab
        if not g.online:
            return (
                "GitLab was not read (no token): rules that read it are not evaluated "
                "on either side; they are listed under errors."
            )
        return (
            f"Rules that read GitLab saw its state of today, read-only: {g.subjects} "
            f"subject(s) read once each, {g.repeats_served_from_cache} repeat(s) from the cache"
            + (f", {len(g.failures)} read(s) failed" if g.failures else "")
            + "."
            + (
                f" {len(g.restored)} item(s) the bot moved out of a sprint in the window are "
                "planned as they were before the move (action ledger)."
                if g.restored
                else ""
            )
        )

    def to_text(self) -> str:
        lines = [self.summary()]
        lines += [f"  {e}" for e in self.validation_errors]
        if not self.valid:
            return "\n".join(lines)
        if self.rules_changed:
            lines.append("rules: " + ", ".join(f"{n} ({c})" for n, c in self.rules_changed.items()))
        lines.append(self._gitlab_line())
        if self.skipped_own_events or self.unreadable:
            lines.append(
                f"not replayed: {self.skipped_own_events} of the bot's own events, "
                f"{self.unreadable} unreadable"
            )
        for rule in self.rules:
            lines.append("")
            lines.append(f"rule {rule.rule}")
            for change in CHANGES:
                group = rule.group(change)
                if not group.actions:
                    continue
                lines.append(
                    f"  {change}: {group.actions} action(s) on {group.subjects} subject(s)"
                )
                for s in group.shown:
                    lines.append(f"    {s.subject}  {s.url or ''}".rstrip())
                    lines += [f"      - {a}" for a in s.before]
                    lines += [f"      + {a}" for a in s.after]
                if group.subjects > len(group.shown):
                    lines.append(f"    ... and {group.subjects - len(group.shown)} more")
        for e in self.errors:
            lines.append(
                f"! {e.rule} ({_side(e.side)}): not evaluated for {e.events} event(s): {e.first}"
            )
        return "\n".join(lines)

    def to_markdown(self) -> str:
        lines = [f"**Rules preview:** {self.summary()}"]
        if not self.valid:
            lines.append("")
            lines += [f"- `{e}`" for e in self.validation_errors]
            return "\n".join(lines)
        lines += ["", f"_{self._gitlab_line()}_"]
        if self.rules_changed:
            changed = ", ".join(f"`{n}` ({c})" for n, c in self.rules_changed.items())
            lines += ["", f"Rules: {changed}"]
        for rule in self.rules:
            lines += ["", f"#### `{rule.rule}`", ""]
            lines.append("| change | actions | subjects |")
            lines.append("|---|---|---|")
            for change in CHANGES:
                group = rule.group(change)
                if group.actions:
                    lines.append(f"| {change} | {group.actions} | {group.subjects} |")
            for change in CHANGES:
                group = rule.group(change)
                if not group.actions:
                    continue
                lines += ["", f"{change.capitalize()}:"]
                for s in group.shown:
                    name = f"[{s.subject}]({s.url})" if s.url else s.subject
                    diff = [f"~~{_md(a)}~~" for a in s.before] + [_md(a) for a in s.after]
                    lines.append(f"- {name}: " + "; ".join(diff))
                if group.subjects > len(group.shown):
                    lines.append(f"- … and {group.subjects - len(group.shown)} more")
        if self.errors:
            lines += ["", "Not evaluated:"]
            lines += [
                f"- `{e.rule}` ({_side(e.side)}), {e.events} event(s): {_md(e.first)}"
                for e in self.errors
            ]
        return "\n".join(lines)


def _md(text: str) -> str:
    """Text from rules and payloads as a code span: no mention pings, no quick action, no
    markup (the report is posted as a note), on one line."""
    return "`" + text.replace("`", "'").replace("\n", " ") + "`"


def _side(side: str) -> str:
    return {"live": "live rules", "candidate": "new rules"}.get(side, "live and new rules")
