"""A rule change previewed on the recorded history: the shipped pack, real payloads, the
simulator's GitLab (read, never written), each subject read once."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import gitlab
import pytest

from hooks.gitlab.ops import GitlabOps
from hooks.preview.reading import offline_reader
from hooks.preview.report import PreviewReport
from hooks.preview.run import preview
from hooks.rules.gitlab_reader import GitlabReader
from hooks.rules.loader import load_rules
from hooks.storage.audit import insert_audit
from hooks.storage.records import AuditRecord
from hooks.storage.store import Store
from hooks.testing.simulator import Simulator
from tests.e2e import RULE_PACK
from tests.preview_history import (
    PROPOSED_SENTENCE,
    ROLLOVER_SENTENCE,
    pack_copy,
    payload,
    record,
    sprint_closed,
)

NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    """The recorded history, on SQLite and on PostgreSQL."""
    store = Store.open(database_url)
    await store.migrate()
    yield store
    await store.close()


@pytest.fixture
def reader(gitlab_sim: Simulator) -> Iterator[GitlabReader]:
    with gitlab.Gitlab(gitlab_sim.url, private_token=gitlab_sim.bot_token, timeout=5) as gl:
        yield GitlabReader(GitlabOps(gl, max_retries=1))


def rolling_items_of(sim: Simulator, title: str) -> list[str]:
    """The open issues of a sprint of the demo that roll over (not deprioritized), `path#iid`."""
    sprint = sim.milestone(title)
    return sorted(
        f"{path}#{i['iid']}"
        for path in ("demo/product", "demo/marketing")
        for i in sim.issues(path)
        if i["state"] == "opened"
        and (i["milestone"] or {}).get("id") == sprint["id"]
        and not {"deprioritized", "superseded"} & set(i["labels"])
    )


async def previewed(
    store: Store, reader: GitlabReader, sim: Simulator, candidate: Path, days: int = 14
) -> PreviewReport:
    return await preview(
        store,
        reader,
        load_rules(RULE_PACK),
        load_rules(candidate),
        since=timedelta(days=days),
        now=NOW,
        gitlab_url=sim.url,
        default_tz="Europe/Berlin",
    )


async def test_a_changed_roll_over_comment_names_each_item_that_would_roll_over(
    store: Store, reader: GitlabReader, gitlab_sim: Simulator, tmp_path: Path
) -> None:
    await record(
        store, "Milestone Hook", sprint_closed(gitlab_sim, "Sprint 41"), NOW - timedelta(days=2)
    )
    candidate = pack_copy(tmp_path, "20-rollover.yaml", ROLLOVER_SENTENCE, PROPOSED_SENTENCE)

    report = await previewed(store, reader, gitlab_sim, candidate)

    [rollover] = [r for r in report.rules if r.rule == "roll-over-first-time"]
    rolled = [s.subject for s in rollover.altered.shown]
    assert rolled == rolling_items_of(gitlab_sim, "Sprint 41")
    assert rollover.added.actions == rollover.removed.actions == 0
    assert rollover.altered.actions == len(rolled)  # one comment per item
    first = rollover.altered.shown[0]
    assert first.url == f"{gitlab_sim.url}/{first.subject.replace('#', '/-/issues/')}"
    assert ROLLOVER_SENTENCE in first.before[0] and PROPOSED_SENTENCE in first.after[0]
    assert report.rules_changed == {"roll-over-first-time": "changed"}
    assert report.has_differences


async def test_the_same_rules_show_no_difference(
    store: Store, reader: GitlabReader, gitlab_sim: Simulator, tmp_path: Path
) -> None:
    await record(
        store, "Milestone Hook", sprint_closed(gitlab_sim, "Sprint 41"), NOW - timedelta(days=2)
    )
    await record(store, "Issue Hook", payload("issue_update_labels.json"), NOW - timedelta(days=1))

    report = await previewed(store, reader, gitlab_sim, RULE_PACK)

    assert report.deliveries == 2
    assert report.live_actions == report.candidate_actions > 0
    assert report.rules == [] and not report.has_differences


async def test_a_rule_left_out_removes_its_actions_on_every_recorded_close(
    store: Store, reader: GitlabReader, gitlab_sim: Simulator, tmp_path: Path
) -> None:
    await record(
        store, "Milestone Hook", sprint_closed(gitlab_sim, "Sprint 41"), NOW - timedelta(days=2)
    )
    candidate = pack_copy(
        tmp_path,
        "20-rollover.yaml",
        "- name: roll-over-first-time",
        "- name: roll-over-first-time\n  enabled: false",
    )

    report = await previewed(store, reader, gitlab_sim, candidate)

    [rollover] = report.rules
    assert rollover.rule == "roll-over-first-time"
    removed = [s.subject for s in rollover.removed.shown]
    assert removed == rolling_items_of(gitlab_sim, "Sprint 41")
    assert rollover.removed.actions == 4 * rollover.removed.subjects  # move, label, health, comment


async def test_scheduled_fires_in_the_window_are_planned(
    store: Store, reader: GitlabReader, gitlab_sim: Simulator, tmp_path: Path
) -> None:
    candidate = pack_copy(
        tmp_path,
        "40-rituals.yaml",
        "rules:\n",
        "rules:\n"
        "- name: daily-standup-notes\n"
        "  on: {schedule: {cron: '0 9 * * *', timezone: UTC}}\n"
        "  do:\n"
        "    - create_issue: {project: demo/marketing, title: 'Stand-up {{ today }}', link: none}\n",
    )

    report = await previewed(store, reader, gitlab_sim, candidate, days=3)

    [standup] = report.rules
    assert standup.rule == "daily-standup-notes"
    assert standup.added.actions == 3  # one issue per fire in three days
    assert len(standup.added.shown[0].sources) == 3
    assert all(
        s.startswith("schedule daily-standup-notes@") for s in standup.added.shown[0].sources
    )
    assert report.scheduled_fires >= 3


async def test_gitlab_is_read_once_per_subject_and_never_written(
    store: Store, reader: GitlabReader, gitlab_sim: Simulator, tmp_path: Path
) -> None:
    # The same close as five deliveries (a group hook and project hooks, resent by hand).
    close = sprint_closed(gitlab_sim, "Sprint 41")
    for n in range(5):
        await record(store, "Milestone Hook", close, NOW - timedelta(hours=n + 1), key=f"close-{n}")
    candidate = pack_copy(tmp_path, "20-rollover.yaml", ROLLOVER_SENTENCE, PROPOSED_SENTENCE)
    gitlab_sim.clear_requests()

    report = await previewed(store, reader, gitlab_sim, candidate)

    requests = gitlab_sim.recorded()
    assert requests and {r.method for r in requests} == {"GET"}
    asked = Counter((r.path, tuple(sorted(r.query.items()))) for r in requests)
    assert max(asked.values()) == 1, asked.most_common(3)
    assert report.gitlab.online and report.gitlab.subjects == len(asked)
    assert report.gitlab.repeats_served_from_cache > 0
    assert "read-only" in report.to_markdown()


async def test_without_a_token_rules_that_read_gitlab_are_named_not_evaluated(
    store: Store, tmp_path: Path
) -> None:
    await record(store, "Issue Hook", payload("issue_update_labels.json"), NOW - timedelta(days=1))

    report = await preview(
        store,
        offline_reader(),
        load_rules(RULE_PACK),
        load_rules(RULE_PACK),
        since=timedelta(days=14),
        now=NOW,
        online=False,
    )

    assert not report.has_differences
    assert report.errors and {e.side for e in report.errors} == {"both"}
    assert "no GitLab token" in report.errors[0].first
    assert "GitLab was not read" in report.to_text()


async def test_a_close_before_the_window_is_not_replayed_only_the_daily_sweep_is(
    store: Store, reader: GitlabReader, gitlab_sim: Simulator, tmp_path: Path
) -> None:
    await record(
        store, "Milestone Hook", sprint_closed(gitlab_sim, "Sprint 41"), NOW - timedelta(days=20)
    )
    candidate = pack_copy(tmp_path, "20-rollover.yaml", ROLLOVER_SENTENCE, PROPOSED_SENTENCE)

    report = await previewed(store, reader, gitlab_sim, candidate)

    assert report.deliveries == 0
    [rollover] = [r for r in report.rules if r.rule == "roll-over-first-time"]
    sources = {source for s in rollover.altered.shown for source in s.sources}
    assert sources and all(s.startswith("schedule roll-over-first-time@") for s in sources)


async def test_a_delivery_the_loop_guard_ignored_is_not_replayed(store: Store) -> None:
    own = await record(store, "Issue Hook", payload("issue_update_labels.json"), NOW - timedelta(1))
    ignored = AuditRecord(kind="event", outcome="ignored", detail={"reason": "loop guard"})
    await store.transact(lambda conn: insert_audit(conn, [ignored], NOW, delivery_id=own))

    report = await preview(
        store,
        offline_reader(),
        load_rules(RULE_PACK),
        load_rules(RULE_PACK),
        since=timedelta(days=14),
        now=NOW,
        online=False,
    )

    assert report.skipped_own_events == 1 and report.deliveries == 0
