"""Planning an issue event against 500 rules, beside the same event against one rule."""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.report import Row
from hooks.events import parse_event
from hooks.rules.engine import plan
from hooks.rules.loader import load_rules
from hooks.rules.model import RuleSet
from hooks.rules.reader import MilestoneInfo, StaticReader

FIXTURE = Path(__file__).resolve().parents[1] / "rules" / "fixtures" / "issue.json"
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
SPRINTS = [
    MilestoneInfo(id=42, title="Sprint 42", start_date="2026-11-16", due_date="2026-11-29"),
    MilestoneInfo(id=43, title="Sprint 43", start_date="2026-11-30", due_date="2026-12-13"),
]


def rule_text(n: int, match_all: bool = False) -> str:
    """A mix of rule shapes, each about one team's label (an organisation's rule set).

    The event carries the labels of a few teams, so a handful of the 500 rules match; with
    `match_all` every rule's label test is one the event passes (the worst case).
    """
    team = "feature" if match_all else f"team-{n}"
    kinds = [
        f"""- name: labels-{n}
  on: {{issue: [open, update]}}
  if: {{state: opened, labels: {{any: ["{team}"], none: ["x-{n}"]}}}}
  do: [{{add_labels: ["seen-{n % 7}"]}}]""",
        f"""- name: due-{n}
  on: {{issue: [update]}}
  if: {{labels: ["{team}"], due_date: {{within: 14d}}, milestone: {{any: true}}}}
  do: [{{comment: "Due {{{{ issue.due_date }}}} in {{{{ milestone.title }}}} ({n})"}}]""",
        f"""- name: release-{n}
  on: {{release: [create]}}
  do: [{{create_issue: {{project: demo/marketing, title: "R {{{{ release.tag }}}}"}}}}]""",
        f"""- name: expr-{n}
  on: {{issue: [update]}}
  if:
    labels: ["{team}"]
    any: [{{label_added: [blocked]}}, {{expr: "issue.title.startswith('Write')"}}]
  do: [{{set_health: needs_attention}}]""",
    ]
    return kinds[n % len(kinds)]


def ruleset(count: int, tmp: Path, match_all: bool = False) -> RuleSet:
    folder = tmp / f"{count}-{match_all}"
    folder.mkdir()
    text = "\n".join(rule_text(n, match_all) for n in range(count))
    (folder / "r.yaml").write_text("rules:\n" + text)
    return load_rules(folder)


def event_payload() -> dict[str, object]:
    payload = json.loads(FIXTURE.read_text())
    payload["labels"] = [{"title": t} for t in ("feature", "team-3", "team-7", "team-12")]
    return payload


def timings(rules: RuleSet, rounds: int = 300, clock: Any = time.perf_counter) -> list[float]:
    """Milliseconds per plan, sorted; `time.thread_time` counts only this thread's CPU,
    not the time the shared machine gave other processes."""
    event = parse_event("Issue Hook", event_payload())
    reader = StaticReader(SPRINTS)
    plan(event, rules, reader, now=NOW)  # warm the template cache
    out = []
    for _ in range(rounds):
        started = clock()
        plan(event, rules, reader, now=NOW)
        out.append((clock() - started) * 1000)
    return sorted(out)


def main() -> list[Row]:
    """Print median and p99 planning time for 500 rules and the one-rule baseline."""
    with tempfile.TemporaryDirectory() as tmp:
        rules = ruleset(500, Path(tmp))
        many = timings(rules)
        many_cpu = timings(rules, clock=time.thread_time)
        one = timings(ruleset(1, Path(tmp)))
        worst = timings(ruleset(500, Path(tmp), match_all=True), rounds=50)
    event = parse_event("Issue Hook", event_payload())
    matched = sum(t.matched for t in plan(event, rules, StaticReader(SPRINTS), now=NOW).trace)
    med, base = statistics.median(many), statistics.median(one)
    cpu = statistics.median(many_cpu)
    print(f"{'plan one issue event':34}{'500 rules':>10}{'1 rule':>9}{'ratio':>7}")
    print(
        f"{'median (ms), ' + str(matched) + ' rules match':34}{med:>10.3f}{base:>9.3f}"
        f"{med / base:>7.0f}   target <= 2 ms"
    )
    print(f"{'median CPU time of the thread (ms)':34}{cpu:>10.3f}")
    print(f"{'p99 (ms)':34}{many[int(len(many) * 0.99)]:>10.3f}{one[int(len(one) * 0.99)]:>9.3f}")
    print(
        f"{'worst case: all 500 match (ms)':34}{statistics.median(worst):>10.3f}"
        "   median; every rule renders and plans an action"
    )

    return [
        Row(
            6,
            f"plan an issue event against 500 rules ({matched} match), median",
            f"{med:.2f} ms wall, {cpu:.2f} ms CPU",
            f"1 rule {base:.3f} ms",
            f"{med / base:.0f}",
            "<= 2 ms (wall)",
            med <= 2,
        )
    ]


if __name__ == "__main__":
    main()
