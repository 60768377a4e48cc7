"""The merge request check: the rules at the MR's head commit validated, their examples run,
previewed on the recorded history against the live rules; one note (edited in place on each
push) and the commit status `hooks/rules` on the head commit. Once per (MR, head commit).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import gitlab
import structlog

from hooks.preview.reading import gateway_reader
from hooks.preview.run import preview
from hooks.processing.processor import BotUser
from hooks.rules.examples import ExampleResult
from hooks.rules.keys import digest
from hooks.rules.model import RuleSet
from hooks.rulesource.events import MergeRequestEvent
from hooks.rulesource.fetch import RulesRefused, read_commit, validate_and_test
from hooks.rulesource.live import RulesSource
from hooks.rulesource.once import Done, Once
from hooks.rulesource.report import MR_MARKER, STATUS_NAME, CheckReport
from hooks.storage.store import Store

log = structlog.get_logger("hooks.rulesource")


class MergeRequestCheck:
    """Checks a merge request of the rules project into the rules ref."""

    def __init__(
        self,
        source: RulesSource,
        store: Store,
        once: Once,
        *,
        bot: Callable[[], BotUser | None],
        since: timedelta,
        gitlab_url: str,
        default_tz: str,
        now: Callable[[], datetime],
    ) -> None:
        self.source = source
        self.store = store
        self.once = once
        self.bot = bot
        self.since = since
        self.gitlab_url = gitlab_url
        self.default_tz = default_tz
        self.now = now

    async def run(self, event: MergeRequestEvent, sha: str, delivery_id: int) -> Done:
        """Check the merge request at `sha` unless that was done already."""
        project = str(event.project.id)
        iid = event.object_attributes.iid

        async def work(_resumed: bool) -> dict[str, Any]:
            # Note and status are found and rewritten, not added: resuming writes nothing twice.
            return await self.check(project, iid, sha)

        return await self.once.run(
            f"rules-mr.{digest(project, iid, sha)}",
            action="merge_request_check",
            subject=f"{event.project.path_with_namespace}!{iid}",
            params={"sha": sha},
            work=work,
            delivery_id=delivery_id,
        )

    async def check(self, project: str, iid: int, sha: str) -> dict[str, Any]:
        """Validate, test and preview the rules at `sha`; report on the MR and the commit."""
        await self._status(project, sha, "running", "checking the rules of this commit")
        report = await self.report(project, sha)
        body = report.markdown()
        note = await self._note(project, iid, body)
        state = "success" if report.ok else "failed"
        await self._status(project, sha, state, report.status_description())
        log.info("merge request checked", project=project, mr=iid, commit=sha, state=state)
        return {"state": state, "note": note, "description": report.status_description()}

    async def report(self, project: str, sha: str) -> CheckReport:
        """The check of one commit's rules, with the preview against the rules in force."""
        live = self.source.loaded.rules
        report = CheckReport(sha=sha, live=live.version if live else None)
        try:
            commit = await self.source.call(
                lambda ops: read_commit(ops, project, sha, self.source.folder)
            )
            candidate, examples = await asyncio.to_thread(
                validate_and_test, commit, self.source.approval_setting
            )
        except RulesRefused as exc:
            report.errors = exc.errors
            return report
        report.rules, report.examples = len(candidate.rules), examples
        if live is not None:
            await self._preview(report, live, candidate, examples)
        else:
            report.preview = "No rules are in force to compare with."
        return report

    async def _preview(
        self, report: CheckReport, live: RuleSet, candidate: RuleSet, examples: list[ExampleResult]
    ) -> None:
        reader, online = gateway_reader(self.source.gateway, asyncio.get_running_loop())
        previewed = await preview(
            self.store,
            reader,
            live,
            candidate,
            since=self.since,
            now=self.now(),
            gitlab_url=self.gitlab_url,
            default_tz=self.default_tz,
            online=online,
        )
        previewed.examples_passed = sum(r.ok for r in examples)
        report.preview = previewed.to_markdown()
        report.has_differences = previewed.has_differences

    async def _note(self, project: str, iid: int, body: str) -> dict[str, Any]:
        """Edit the service's note (found by its marker) or add it."""
        if self.source.dry_run:
            log.info("dry-run: would write the merge request note", mr=iid, body=body)
            return {"dry_run": True}
        bot = self.bot()
        notes = await self.source.call(lambda ops: ops.merge_request_notes(project, iid))
        ours = [
            n
            for n in notes
            if MR_MARKER in str(n.get("body", ""))
            and (bot is None or (n.get("author") or {}).get("id") == bot.id)
        ]
        if ours:
            note_id = int(ours[0]["id"])
            await self.source.call(
                lambda ops: ops.edit_merge_request_note(project, iid, note_id, body)
            )
            return {"edited": note_id}
        created = await self.source.call(
            lambda ops: ops.create_merge_request_note(project, iid, body)
        )
        return {"created": created.get("id")}

    async def _status(self, project: str, sha: str, state: str, description: str) -> None:
        if self.source.dry_run:
            log.info("dry-run: would set the commit status", commit=sha, state=state)
            return
        try:
            await self.source.call(
                lambda ops: ops.set_status(
                    project, sha, state=state, name=STATUS_NAME, description=description
                )
            )
        except gitlab.exceptions.GitlabError as exc:
            # GitLab answers 400 "Cannot transition status via :run from :running" when a
            # resumed check sets the state the status already has: it is set, as wanted.
            if exc.response_code != 400 or "transition" not in str(exc.error_message):
                raise
