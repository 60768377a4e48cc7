"""The live rules of a GitLab project: the ref's head, read at its SHA, validated, swapped whole.

One refresh runs at a time in a process; a push that arrives meanwhile waits and then reads
the ref's head again, so the latest commit wins and nothing is loaded half. The live commit
goes to the database, and every replica's periodic check adopts it within a check interval.
A commit that does not validate never goes live: its errors are commented on it (once),
kept for the dashboard, `/readyz` and the metrics, and the rules before it stay in force.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, TypeVar

import structlog

from hooks.gitlab.gateway import Gateway, error_message, is_permanent
from hooks.gitlab.repository import RepositoryOps
from hooks.rules.keys import digest
from hooks.rulesource.fetch import CommitFiles, RulesRefused, read_commit, validate
from hooks.rulesource.loaded import LoadedRules
from hooks.rulesource.once import Once
from hooks.rulesource.report import refused_comment
from hooks.service.config import Settings
from hooks.service.metrics import Metrics
from hooks.storage.rules_live import RulesLiveStore

log = structlog.get_logger("hooks.rulesource")
T = TypeVar("T")

Outcome = Literal["live", "unchanged", "refused", "unavailable"]


@dataclass(frozen=True)
class Refresh:
    """What one refresh did, for the audit trail and the admin API."""

    outcome: Outcome
    sha: str | None
    detail: str
    errors: list[str] = field(default_factory=list)
    # Whether retrying later may succeed (GitLab unreachable, not a refused token).
    transient: bool = False


class RulesSource:
    """Follows HOOKS_RULES_PROJECT's ref; `loaded` is the runtime's rule set in force."""

    def __init__(
        self,
        settings: Settings,
        loaded: LoadedRules,
        gateway: Gateway,
        live_store: RulesLiveStore,
        once: Once,
        *,
        metrics: Metrics,
        now: Callable[[], datetime],
    ) -> None:
        self.project = settings.rules_project
        self.folder = settings.rules_path
        self.configured_ref = settings.rules_ref
        self.max_retries = settings.gitlab_max_retries
        self.dry_run = settings.effective_dry_run
        self.approval_setting = settings.approval_project
        self.loaded = loaded
        self.gateway = gateway
        self.live_store = live_store
        self.once = once
        self.metrics = metrics
        self.now = now
        self.key = f"{self.project}@{self.configured_ref or '(default branch)'}"
        self.default_branch: str | None = None
        self.refused_sha: str | None = None
        self.unavailable: str | None = None  # why the last read of the project failed
        # Called after a commit went live (the scheduler's jobs, the rules' breakers).
        self.listeners: list[Callable[[], Awaitable[object]]] = []
        self._lock = asyncio.Lock()
        # At start one try per call: GitLab down must not hold the service's start for the
        # retries' backoff; the periodic check reads again.
        self._starting = False
        # The live commit's files on disk: its fixtures serve a candidate previewed by
        # POST /admin/preview as a checkout's would (see `support_dir`).
        self._files: tempfile.TemporaryDirectory[str] | None = None

    @property
    def live_sha(self) -> str | None:
        rules = self.loaded.rules
        return rules.version if rules is not None and rules.origin == "gitlab" else None

    async def call(self, fn: Callable[[RepositoryOps], T]) -> T:
        retries = 1 if self._starting else self.max_retries
        return await self.gateway.call(lambda gl: fn(RepositoryOps(gl, max_retries=retries)))

    async def ref(self) -> str:
        """The branch followed: HOOKS_RULES_REF, else the project's default branch."""
        if self.configured_ref:
            return self.configured_ref
        if self.default_branch is None:
            project = await self.call(lambda ops: ops.project(self.project))
            self.default_branch = str(project.get("default_branch") or "main")
        return self.default_branch

    async def _head(self) -> str:
        ref = await self.ref()
        return await self.call(lambda ops: ops.branch_head(self.project, ref))

    async def refresh(self, reason: str) -> Refresh:
        """Make the ref's head live if it validates; one at a time, the latest head wins."""
        async with self._lock:
            result = Refresh("unavailable", None, "not read")
            # The head is read again after a load: if it moved meanwhile (a push being read
            # by another replica), the newer commit is loaded, so the last write is the newest.
            for _ in range(3):
                try:
                    head = await self._head()
                except Exception as exc:
                    return self._unavailable(exc, reason)
                if head == self.live_sha:
                    if result.outcome == "live":
                        return result
                    return Refresh("unchanged", head, f"commit {head[:12]} is live already")
                if head == self.refused_sha:
                    errors = list(self.loaded.errors)
                    # The comment again, unless it was made (the ledger knows): its first
                    # attempt may have failed.
                    await self._comment(head, errors, self.live_sha)
                    detail = f"commit {head[:12]} was refused already"
                    return Refresh("refused", head, detail, errors)
                result = await self._load(head, reason, announce=True)
                if result.outcome != "live":
                    return result
            return result

    async def adopt(self, reason: str) -> Refresh | None:
        """Make the commit the database names live live here too (None: it is already).

        Read under the lock: a refresh of this process that is putting a newer commit live
        records it before anyone reads the database again, so nothing older is adopted."""
        async with self._lock:
            row = await self.live_store.read(self.key)
            if row is None or not row.sha or row.sha == self.live_sha:
                return None
            return await self._load(row.sha, reason, announce=False)

    async def _load(self, sha: str, reason: str, *, announce: bool) -> Refresh:
        try:
            commit = await self.call(lambda ops: read_commit(ops, self.project, sha, self.folder))
            for note in commit.ignored:
                log.info("rules file ignored", commit=sha, note=note)
            ruleset = await asyncio.to_thread(validate, commit, self.approval_setting)
        except RulesRefused as exc:
            return await self._refused(sha, exc.errors, announce=announce)
        except Exception as exc:
            return self._unavailable(exc, reason)
        before = self.live_sha
        self._keep_files(commit)
        self.loaded.install(ruleset, self.now())
        self.loaded.origin = f"{self.project}@{await self.ref()}"
        self.unavailable, self.refused_sha = None, None
        if announce:  # the ref's head: new for every replica (an adopted one is recorded)
            await self.live_store.set_live(self.key, sha, self.now())
        for listener in self.listeners:
            try:
                await listener()
            except Exception as exc:  # the rules are live either way; say what did not follow
                log.error("after the rules went live", commit=sha, error=error_message(exc))
        log.info(
            "rules live",
            project=self.project,
            commit=sha,
            previous=before,
            rules=len(ruleset.rules),
            reason=reason,
        )
        return Refresh("live", sha, f"rules of commit {sha[:12]} are live ({len(ruleset.rules)})")

    def _keep_files(self, commit: CommitFiles) -> None:
        kept = tempfile.TemporaryDirectory(prefix="hooks-live-rules-")
        for path, data in commit.files.items():
            target = Path(kept.name) / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        (Path(kept.name) / self.folder).mkdir(parents=True, exist_ok=True)
        previous, self._files = self._files, kept
        if previous is not None:
            previous.cleanup()

    @property
    def support_dir(self) -> Path | None:
        """The live commit's rules folder on disk (None before a commit went live here)."""
        return Path(self._files.name) / self.folder if self._files is not None else None

    def close(self) -> None:
        if self._files is not None:
            self._files.cleanup()
            self._files = None

    async def _refused(self, sha: str, errors: list[str], *, announce: bool) -> Refresh:
        self.refused_sha = sha
        self.loaded.refuse(errors)
        live = self.live_sha
        log.error(
            "rules refused; the previous rules stay",
            project=self.project,
            commit=sha,
            live=live,
            errors=errors,
        )
        if announce:
            await self.live_store.set_refused(self.key, sha, errors, self.now())
            await self._comment(sha, errors, live)
        return Refresh("refused", sha, f"commit {sha[:12]} does not validate", errors)

    async def _comment(self, sha: str, errors: list[str], live: str | None) -> None:
        """The errors as a comment on the commit, once per commit."""
        body = refused_comment(sha, errors, live)
        if self.dry_run:
            log.info("dry-run: would comment on the commit", commit=sha, body=body)
            return

        async def work(resumed: bool) -> dict[str, Any]:
            if resumed:
                found = await self.call(lambda ops: ops.commit_comments(self.project, sha))
                if any(body.splitlines()[0] in str(c.get("note", "")) for c in found):
                    return {"found": True}
            note = await self.call(lambda ops: ops.commit_comment(self.project, sha, body))
            return {"note": note.get("note", "")[:80]}

        try:
            await self.once.run(
                f"rules-refused.{digest(self.project, sha)}",
                action="commit_comment",
                subject=f"{self.project}@{sha}",
                params={"errors": len(errors)},
                work=work,
            )
        except Exception as exc:
            log.error(
                "could not comment on the refused commit", commit=sha, error=error_message(exc)
            )

    def _unavailable(self, exc: BaseException, reason: str) -> Refresh:
        message = error_message(exc)
        if is_permanent(exc):
            message += (
                f" (the token must read project {self.project}: read_api"
                " scope or api, Reporter role or more)"
            )
        self.unavailable = message
        self.metrics.rules_fetch_failures.inc()
        log.error(
            "rules project unreadable; the rules in force stay",
            project=self.project,
            error=message,
            reason=reason,
        )
        return Refresh("unavailable", None, message, transient=not is_permanent(exc))

    async def converge(self, _slot: datetime | None = None) -> None:
        """The periodic check: adopt the commit the database names live, or retry a read."""
        adopted = await self.adopt("another replica put it live")
        if adopted is None and (self.loaded.rules is None or self.unavailable):
            await self.refresh("retry")
        await self._sync_refusal()

    async def _sync_refusal(self) -> None:
        """The newest refused commit and its errors as the database has them (any replica's)."""
        async with self._lock:  # not between a refusal and its record in the database
            row = await self.live_store.read(self.key)
            if row is None or row.refused_sha == self.refused_sha:
                return
            self.refused_sha = row.refused_sha
            self.loaded.refuse(row.refused_errors if row.refused_sha else [])

    async def start(self) -> None:
        """At start: the ref's head, else (refused) the commit the database names live."""
        self._starting = True
        try:
            result = await self.refresh("start")
            if self.loaded.rules is not None:
                return
            if await self.adopt(f"the ref's head: {result.detail}; the last live commit"):
                await self._sync_refusal()  # the head stays refused
        finally:
            self._starting = False
