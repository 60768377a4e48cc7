"""Preview of 10,000 recorded deliveries against 30 rules, beside planning them once.

The shipped pack plus generated rules, 30 in all; the candidate changes the roll-over
comment and two generated rules. Deliveries are real payloads (issue updates and opens,
confidential issues, releases, sprint closes) retargeted at the demo's projects and stored
in SQLite over 14 days; GitLab is the simulator (demo seed) in a thread, read once per
subject. The baseline reads the same deliveries from the store and plans each once with the
live rules, as the worker does.
"""

from __future__ import annotations

import asyncio
import json
import random
import shutil
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import gitlab

from bench.report import Row
from hooks.events import event_kind, parse_event
from hooks.gitlab.ops import GitlabOps
from hooks.preview.reading import CachingReader
from hooks.preview.run import preview
from hooks.rules.engine import plan
from hooks.rules.gitlab_reader import GitlabReader
from hooks.rules.loader import load_rules
from hooks.rules.model import RuleSet
from hooks.storage.history import recorded_between
from hooks.storage.records import NewDelivery, dedup_key
from hooks.storage.store import Store
from hooks.testing.simulator import Simulator, SimulatorThread

ROOT = Path(__file__).resolve().parents[1]
PACK = ROOT / "rules"
PAYLOADS = ROOT / "tests" / "fixtures" / "webhooks"
DELIVERIES = 10_000
RULES = 30
WINDOW = timedelta(days=14)
LABELS = [
    "blocked",
    "feature",
    "area::ci",
    "area::plan",
    "team-1",
    "team-2",
    "team-3",
    "case-study",
]

GENERATED = """
rules:
- name: gen-team-1-triage
  on: {issue: [open, update]}
  if: {state: opened, labels: {any: [team-1]}}
  do: [{add_labels: [triage-1]}]
- name: gen-team-2-triage
  on: {issue: [open, update]}
  if: {state: opened, labels: {any: [team-2]}}
  do: [{add_labels: [triage-2]}]
- name: gen-team-3-welcome
  on: {issue: [open]}
  if: {labels: {any: [team-3]}}
  do: [{comment: "Welcome, {{ issue.title }} is on team 3's board."}]
- name: gen-blocked-note
  on: {issue: [update]}
  if: {label_added: [blocked]}
  do: [{comment: "Blocked: say what it waits for."}]
- name: gen-feature-area
  on: {issue: [update]}
  if: {labels: {all: [feature], none: ["area::*"]}}
  do: [{add_labels: ["area::unknown"]}]
- name: gen-release-note
  on: {release: [create]}
  do: [{create_issue: {project: demo/marketing, title: "Notes for {{ release.tag }}", link: none}}]
- name: gen-closed-cleanup
  on: {issue: [close]}
  do: [{remove_labels: [blocked]}]
"""


def _payload(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((PAYLOADS / name).read_text())
    return data


def _on_demo(data: dict[str, Any], iid: int, labels: list[str]) -> dict[str, Any]:
    data["project"] = {**data["project"], "path_with_namespace": "demo/product", "id": 1}
    attrs = data["object_attributes"]
    attrs.update(iid=iid, id=100_000 + iid, labels=[{"title": t} for t in labels])
    data["labels"] = [{"title": t} for t in labels]
    if "changes" in data and "labels" in data["changes"]:
        data["changes"]["labels"]["current"] = [{"title": t} for t in labels]
    return data


def payloads(sim: Simulator, rng: random.Random) -> list[tuple[str, dict[str, Any]]]:
    """10,000 deliveries: mostly issue events on 400 issues, some releases and sprint closes."""
    sprint = sim.milestone("Sprint 41")
    close = _payload("milestone_group_close.json")
    close["object_attributes"].update(
        id=sprint["id"], iid=sprint["iid"], title=sprint["title"], group_id=sprint["group_id"]
    )
    out: list[tuple[str, dict[str, Any]]] = []
    for n in range(DELIVERIES):
        pick = n % 50
        labels = rng.sample(LABELS, rng.randint(0, 3))
        if pick == 0:
            out.append(("Milestone Hook", close))
        elif pick == 1:
            release = _payload("release_create.json")
            release["project"] = {**release["project"], "path_with_namespace": "demo/product"}
            release["tag"] = f"v18.{n}"
            out.append(("Release Hook", release))
        elif pick < 12:
            out.append(("Issue Hook", _on_demo(_payload("issue_open.json"), n % 400 + 1, labels)))
        elif pick < 15:
            confidential = _payload("confidential_issue_open.json")
            out.append(("Confidential Issue Hook", _on_demo(confidential, n % 400 + 1, labels)))
        else:
            update = _payload("issue_update_labels.json")
            out.append(("Issue Hook", _on_demo(update, n % 400 + 1, labels)))
    return out


async def fill(store: Store, deliveries: list[tuple[str, dict[str, Any]]], now: datetime) -> None:
    step = WINDOW / (len(deliveries) + 1)
    news = []
    for n, (header, body) in enumerate(deliveries):
        raw = json.dumps(body).encode()
        kind = event_kind(header, body) or header
        news.append(
            NewDelivery(
                dedup_key=dedup_key(f"bench-{n}", kind, raw),
                event_header=header,
                kind=kind,
                project="demo/product",
                event_uuid=None,
                headers={"X-Gitlab-Event": header},
                body=raw,
                received_at=now - WINDOW + step * (n + 1),
            )
        )
    for start in range(0, len(news), 200):
        await asyncio.gather(*(store.add_delivery(d) for d in news[start : start + 200]))


def generated_rules(count: int) -> str:
    """The first `count` generated rules (the pack's size varies; the rules in force stay 30)."""
    head, *blocks = GENERATED.split("\n- name: ")
    return "\n- name: ".join([head, *blocks[:count]]) + "\n"


def in_force(rules: RuleSet) -> int:
    return sum(rule.enabled for rule in rules.rules)


def rule_sets(tmp: Path) -> tuple[RuleSet, RuleSet]:
    live_dir, new_dir = tmp / "live", tmp / "new"
    text = generated_rules(RULES - in_force(load_rules(PACK)))
    for folder in (live_dir, new_dir):
        shutil.copytree(PACK, folder)
        (folder / "50-generated.yaml").write_text(text)
    rollover = new_dir / "20-rollover.yaml"
    rollover.write_text(
        rollover.read_text().replace(
            "it was still open when the sprint closed", "it was not finished when the sprint ended"
        )
    )
    generated = new_dir / "50-generated.yaml"
    generated.write_text(
        text.replace("[triage-1]", "[needs-triage]").replace("Blocked:", "Blocked -")
    )
    return load_rules(live_dir), load_rules(new_dir)


async def plan_once(store: Store, live: RuleSet, reader: GitlabReader, now: datetime) -> int:
    """The baseline: read the window's deliveries and plan each once, as the worker does."""
    recorded = await recorded_between(store.db, now - WINDOW, now)

    def work() -> int:
        cached = CachingReader(reader)
        actions = 0
        for r in recorded:
            event = parse_event(r.event_header, r.body)
            actions += len(plan(event, live, cached, now=r.received_at).actions)
        return actions

    return await asyncio.to_thread(work)


async def measure(tmp: Path, sim: Simulator) -> dict[str, Any]:
    now = datetime.now(UTC)
    live, candidate = rule_sets(tmp)
    # Rules in force: the pack's optional variants (off by default) plan nothing.
    assert in_force(live) == RULES, in_force(live)
    store = Store.open(f"sqlite:///{tmp / 'bench.db'}")
    await store.migrate()
    try:
        await fill(store, payloads(sim, random.Random(19)), now)
        with gitlab.Gitlab(sim.url, private_token=sim.bot_token, timeout=10) as gl:
            reader = GitlabReader(GitlabOps(gl, max_retries=1))
            started = time.perf_counter()
            cpu = time.process_time()
            actions = await plan_once(store, live, reader, now)
            baseline, baseline_cpu = time.perf_counter() - started, time.process_time() - cpu
            sim.clear_requests()
            started = time.perf_counter()
            cpu = time.process_time()
            report = await preview(
                store, reader, live, candidate, since=WINDOW, now=now, gitlab_url=sim.url
            )
            took, took_cpu = time.perf_counter() - started, time.process_time() - cpu
            requests = sim.recorded()
    finally:
        await store.close()
    return {
        "baseline": baseline,
        "baseline_cpu": baseline_cpu,
        "preview": took,
        "preview_cpu": took_cpu,
        "planned_once": actions,
        "report": report,
        "requests": len(requests),
        "writes": sum(r.method != "GET" for r in requests),
    }


def main() -> list[Row]:
    sim = Simulator()
    runner = SimulatorThread(sim)
    runner.start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            m = asyncio.run(measure(Path(tmp), sim))
    finally:
        runner.stop()
    report = m["report"]
    ratio = m["preview"] / m["baseline"]
    changed = sum(r.added.actions + r.removed.actions + r.altered.actions for r in report.rules)
    print(f"{'10,000 deliveries, 30 rules':40}{'preview':>10}{'plan once':>11}{'ratio':>7}")
    print(
        f"{'wall (s)':40}{m['preview']:>10.2f}{m['baseline']:>11.2f}{ratio:>7.2f}   target <= 20 s"
    )
    print(f"{'CPU of the process (s)':40}{m['preview_cpu']:>10.2f}{m['baseline_cpu']:>11.2f}")
    print(
        f"deliveries {report.deliveries}, scheduled fires {report.scheduled_fires}; actions live "
        f"{report.live_actions}, candidate {report.candidate_actions}, changed {changed} in "
        f"{len(report.rules)} rules; GitLab: {m['requests']} requests for {report.gitlab.subjects} "
        f"subjects ({report.gitlab.repeats_served_from_cache} repeats from the cache), "
        f"{m['writes']} writes"
    )
    return [
        Row(
            13,
            "preview 10,000 recorded deliveries against 30 rules (GitLab read once per subject)",
            f"{m['preview']:.1f} s",
            f"planned once {m['baseline']:.1f} s",
            f"{ratio:.1f}",
            "<= 20 s",
            m["preview"] <= 20,
        )
    ]


if __name__ == "__main__":
    main()
