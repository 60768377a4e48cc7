"""Issues: listed from the cursor, oldest change first; each change no delivery covers is rebuilt
into the open, close or update event GitLab would have sent (label changes from the issue's
label history) and acted on once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from hooks.actions.base import Snapshot
from hooks.actions.executor import ActionOutcome
from hooks.actions.registry import KINDS
from hooks.catchup.reconcile_apply import Applier, rules_listening
from hooks.catchup.reconcile_events import gitlab_time, issue_event, parse_time, previous_labels
from hooks.catchup.reconcile_run import RetryLater, ScopeRun
from hooks.gitlab.gateway import error_message
from hooks.gitlab.ops import GitlabOps
from hooks.rules.keys import digest
from hooks.rules.reader import IssueInfo
from hooks.rules.reconcilable import needs_label_history, not_reconcilable
from hooks.storage.records import AuditRecord
from hooks.storage.watch import covers

PAGE = 100


async def reconcile_issues(applier: Applier, run: ScopeRun, start: datetime) -> None:
    report = run.report
    cursor, page = start, 1
    # Issues at the cursor's own time already handled: a re-read from the cursor lists
    # those the sweep did not edit again.
    visited: set[int] = set()
    while True:
        # Always from the cursor, not by offset: items this sweep edits move to the end of
        # the order, and an offset would then skip as many unvisited ones.
        query = {
            "updated_after": gitlab_time(cursor),
            "order_by": "updated_at",
            "sort": "asc",
            "state": "all",
            "per_page": PAGE,
            "page": page,
        }
        batch = await _page(applier, run.kind, run.scope, query)
        if not batch:
            report.cursor = gitlab_time(cursor)
            return
        infos = [IssueInfo.from_rest(r) for r in batch]
        done_before = await applier.watch.reconciled(i.subject for i in infos)
        advanced = acted = False
        for raw, info in zip(batch, infos, strict=True):
            changed_at = parse_time(raw.get("updated_at")) or cursor
            if changed_at == cursor and raw["id"] in visited:
                continue
            last = run.last_seen(info.subject, done_before)
            if covers(last, changed_at):
                run.skipped(applier.metrics)
            else:
                if not run.spend():
                    report.cursor = gitlab_time(cursor)
                    return
                await _issue(applier, run, raw, info, changed_at, last)
                acted = True
            if changed_at > cursor:
                cursor, advanced = changed_at, True
                visited.clear()
                await applier.watch.advance(run.scope, "issue", cursor, applier.now())
            visited.add(raw["id"])
        if len(batch) < PAGE:
            report.cursor = gitlab_time(cursor)
            return
        # A full page all at the cursor's own time: step past it by offset, but only when
        # nothing on it was acted on. An edited issue leaves for the end of the order, and
        # the offset would then pass over as many unvisited ones at that time (a bulk edit,
        # or a backlog created within one millisecond, puts more than a page there).
        page = 1 if advanced or acted else page + 1


async def _page(
    applier: Applier, kind: str, scope: str, query: dict[str, Any]
) -> list[dict[str, Any]]:
    def read(ops: GitlabOps) -> list[dict[str, Any]]:
        return ops.first_page(f"{ops.scope_path(kind, scope)}/issues", **query)

    found: list[dict[str, Any]] = await applier.call(read)
    return found


async def _issue(
    applier: Applier,
    run: ScopeRun,
    raw: dict[str, Any],
    info: IssueInfo,
    changed_at: datetime,
    last_seen: datetime | None,
) -> None:
    ruleset = applier.rules()
    if ruleset is None:
        raise RetryLater("no rules loaded")
    created = parse_time(raw.get("created_at"))
    closed = parse_time(raw.get("closed_at"))
    after = last_seen or run.origin
    events: list[tuple[str, dict[str, Any]]] = []
    opened_here = last_seen is None and created is not None and created >= run.origin
    if opened_here:
        events.append(("open", {}))
    if not opened_here or changed_at > (created or changed_at):
        action = "close" if info.state == "closed" and closed and closed > after else "update"
        events.append((action, {}))
    bot = applier.bot()
    author = (raw.get("author") or {}).get("username")
    records: list[AuditRecord] = []
    outcomes: list[ActionOutcome] = []
    blocked: dict[str, str] = {}
    snapshots = {info.subject: Snapshot.from_rest(raw)}
    for action, changes in events:
        if action == "open" and bot is not None and author == bot.username:
            records.append(_note("ignored", "opened by the bot's own user; loop guard"))
            continue
        probe = issue_event(raw, info, action, changes)
        listening = rules_listening(ruleset, probe)
        skip = {r.name: why for r in listening if (why := not_reconcilable(r))}
        if action != "open" and any(
            needs_label_history(r, info.labels) for r in listening if r.name not in skip
        ):
            try:
                history = await applier.call(
                    lambda ops: ops.label_events(info.project_path, info.iid)
                )
            except Exception as exc:
                why = f"not reconcilable: label history unavailable ({error_message(exc)})"
                skip.update((r.name, why) for r in listening if needs_label_history(r, info.labels))
            else:
                own = bot.username if bot else None
                before = previous_labels(info.labels, history, after, ignore=own)
                if sorted(before) != sorted(info.labels):
                    changes = {
                        "labels": {
                            "previous": [{"title": t} for t in before],
                            "current": [{"title": t} for t in info.labels],
                        }
                    }
        event = issue_event(raw, info, action, changes)
        # Named by where the change starts (what was last seen of the issue, or its
        # creation), not by updated_at: a sweep that acted and died before recording it
        # finds updated_at moved by its own writes, and must plan the same keys again.
        since = created if action == "open" else after
        # The change is what was added and removed: the lists around it also hold the
        # bot's own labels, which a resumed sweep sees and the first one did not.
        added, removed = event.changed_labels()
        change = (sorted(added), sorted(removed))
        fingerprint = "reconcile:" + digest(event.kind, action, raw.get("id"), since, change)
        blocked.update(skip)
        records.append(
            AuditRecord(
                kind="event",
                outcome="reconciled",
                detail={
                    "action": action,
                    "updated_at": raw.get("updated_at"),
                    "changes": changes,
                },
                subject=info.subject,
            )
        )
        outcomes += await applier.execute(
            run, event, ruleset, fingerprint, skip, snapshots, records
        )
    # The bot's own change first: it covers this one too, should the next line not happen.
    await _own_writes(applier, info, raw, snapshots, outcomes)
    await applier.finish(
        run, info.subject, changed_at, blocked, records, outcomes, version=ruleset.version
    )


async def _own_writes(
    applier: Applier,
    info: IssueInfo,
    raw: dict[str, Any],
    snapshots: dict[str, Snapshot],
    outcomes: list[ActionOutcome],
) -> None:
    """Record the bot's own change of the subject, so the next sweep does not redo it."""
    wrote = [
        o
        for o in outcomes
        if o.status == "done" and not o.earlier and o.action.subject == info.subject
    ]
    if not wrote:
        return
    health_mode = applier.dispatcher.executor.health_mode
    # Writes through `PUT /issues/:iid` only: its answer carries the new updated_at.
    rest_only = all(
        (kind := KINDS.get(o.action.action)) is not None
        and kind.rest_only(kind.typed(o.action.args), health_mode)
        for o in wrote
    )
    new = snapshots[info.subject].updated_at
    if not rest_only or new in (None, raw.get("updated_at")):
        # A note or a GraphQL write also moves updated_at; only a read tells where to.
        fresh = await applier.call(lambda ops: ops.issue(info.project_path, info.iid))
        new = fresh.get("updated_at")
    at = parse_time(new)
    if at is not None:
        await applier.watch.mark_reconciled([(info.subject, at, "own_write")], applier.now())


def _note(outcome: str, reason: str) -> AuditRecord:
    return AuditRecord(kind="event", outcome=outcome, detail={"reason": reason})
