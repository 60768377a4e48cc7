"""Milestones: those changed since the cursor, rebuilt into the create or close event GitLab
would have sent and acted on once. An edit and a reopen look alike in the API (no history
tells them apart), so rules answering a reopen are recorded as not reconcilable.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from hooks.actions.executor import ActionOutcome
from hooks.catchup.reconcile_apply import Applier, rules_listening
from hooks.catchup.reconcile_events import gitlab_time, milestone_event, parse_time
from hooks.catchup.reconcile_run import RetryLater, ScopeRun
from hooks.gitlab.ops import GitlabOps
from hooks.rules.keys import digest
from hooks.rules.reconcilable import not_reconcilable
from hooks.storage.records import AuditRecord
from hooks.storage.watch import covers, milestone_subject


async def reconcile_milestones(applier: Applier, run: ScopeRun, start: datetime) -> None:
    scope, kind = run.scope, run.kind
    query: dict[str, Any] = {"updated_after": gitlab_time(start)}
    if kind == "project":
        query["include_ancestors"] = "true"

    def listed(ops: GitlabOps) -> list[dict[str, Any]]:
        read = ops.group_milestones if kind == "group" else ops.project_milestones
        return read(scope, **query)

    found = sorted(
        await applier.call(listed),
        key=lambda m: (m.get("updated_at") or "", m["id"]),
    )
    done_before = await applier.watch.reconciled(milestone_subject(m["id"]) for m in found)
    ruleset = applier.rules()
    if ruleset is None:
        raise RetryLater("no rules loaded")
    for raw in found:
        subject = milestone_subject(raw["id"])
        changed_at = parse_time(raw.get("updated_at")) or start
        last = run.last_seen(subject, done_before)
        if covers(last, changed_at):
            run.skipped(applier.metrics)
            await applier.watch.advance(scope, "milestone", changed_at, applier.now())
            continue
        if not run.spend():
            return
        created = parse_time(raw.get("created_at"))
        actions = []
        if last is None and created is not None and created >= run.origin:
            actions.append("create")
        if raw.get("state") == "closed":
            actions.append("close")
        records: list[AuditRecord] = []
        outcomes: list[ActionOutcome] = []
        blocked: dict[str, str] = {}
        if not actions:
            # An edit or a reopen: GitLab keeps no history telling which.
            probe = milestone_event(raw, scope, "reopen")
            for rule in rules_listening(ruleset, probe):
                blocked[rule.name] = "not reconcilable: cannot tell a reopen from an edit"
        for action in actions:
            event = milestone_event(raw, scope, action)
            skip = {
                r.name: why for r in rules_listening(ruleset, event) if (why := not_reconcilable(r))
            }
            blocked.update(skip)
            records.append(
                AuditRecord(
                    kind="event",
                    outcome="reconciled",
                    detail={"action": action, "updated_at": raw.get("updated_at")},
                    subject=subject,
                )
            )
            fingerprint = "reconcile:" + digest("milestone", action, raw["id"], changed_at)
            outcomes += await applier.execute(run, event, ruleset, fingerprint, skip, {}, records)
        await applier.finish(
            run, subject, changed_at, blocked, records, outcomes, version=ruleset.version
        )
        await applier.watch.advance(scope, "milestone", changed_at, applier.now())
