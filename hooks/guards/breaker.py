"""The circuit breaker: a rule whose actions fail `pause_after` times in a row pauses itself.

What counts: an action that reached its end on GitLab. GitLab refusing it (403, 404, 422) or
the executor refusing it (an unknown user) is a failure; done or already true is a success
and sets the count back to 0. A transient failure (5xx, timeout, 429) is not counted: it is
retried, and it says that GitLab or the network is unwell, not that the rule is wrong; a
breaker that paused every rule while GitLab is down would make each team resume by hand.

A paused rule plans nothing (its trace says `rule paused: <why>`). Its state is in the
database, so it survives restarts and every replica sees it (each reads it again at most
every `refresh_s`). It resumes when a rule of the same name with another definition (a
`hooks.rules.keys.digest` of it) is loaded, or when an admin resumes it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import datetime

import structlog

from hooks.actions.executor import ActionOutcome
from hooks.gitlab.gateway import Gateway, error_message
from hooks.gitlab.ops import GitlabOps
from hooks.guards.owner_issue import PauseNotice, note_resumed, open_or_update
from hooks.rules.keys import digest
from hooks.rules.model import Rule, RuleSet
from hooks.service.metrics import Metrics
from hooks.storage.breakers import Attempt, BreakerState, BreakerStore
from hooks.storage.store import Store

log = structlog.get_logger("hooks.breaker")

DEFAULT_PAUSE_AFTER = 5


def definition_digest(rule: Rule) -> str:
    """The rule's definition, hashed: another value means another version of the rule.

    `examples` are left out: they test the rule, they are not what it does.
    """
    return digest(rule.model_dump(mode="json", by_alias=True, exclude={"examples"}))


def attempts_by_rule(outcomes: Sequence[ActionOutcome]) -> dict[str, list[Attempt]]:
    """Each rule's actions that reached an end on GitLab this run, in plan order."""
    found: dict[str, list[Attempt]] = {}
    for outcome in outcomes:
        if outcome.earlier:  # finished by another run: nothing was tried now
            continue
        a = outcome.action
        if outcome.status in ("done", "satisfied"):
            found.setdefault(a.rule, []).append(Attempt(True))
        elif outcome.status == "failed":
            where = f" on {a.subject}" if a.subject else ""
            found.setdefault(a.rule, []).append(
                Attempt(False, f"{a.action}{where}: {outcome.error}", a.project)
            )
    return found


class Breaker:
    """Counts failures, pauses and resumes rules, and says which rules are paused now."""

    def __init__(
        self,
        store: Store,
        metrics: Metrics,
        *,
        rules: Callable[[], RuleSet | None],
        gateway: Gateway | None,
        now: Callable[[], datetime],
        alert_project: str | None = None,
        refresh_s: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.states = BreakerStore(store)
        self.metrics = metrics
        self.rules = rules
        self.gateway = gateway
        self.now = now
        self.alert_project = alert_project
        self.refresh_s = refresh_s
        self.clock = clock
        self._paused: dict[str, BreakerState] = {}
        # Rules with failures counted (as last read or written here): only for these does a
        # success need a write, to set the count back; a rule that never fails costs none.
        self._failing: set[str] = set()
        self._read_at: float | None = None

    # -- which rules are paused ------------------------------------------------------

    def why_paused(self, rule: Rule) -> str | None:
        """`rule paused: <why>` for a paused rule, else None (the engine's `skip`)."""
        state = self._paused.get(rule.name)
        return f"rule paused: {state.reason}" if state is not None else None

    async def refresh(self, *, force: bool = False) -> None:
        """Read the paused rules again when the last read is older than `refresh_s`.

        Another replica may have paused or resumed one; a database that cannot be read
        leaves the last known state in force.
        """
        fresh = self._read_at is not None and self.clock() - self._read_at < self.refresh_s
        if fresh and not force:
            return
        try:
            active = await self.states.active()
        except Exception as exc:
            log.warning("could not read the paused rules", error=str(exc))
            return
        self._read_at = self.clock()
        paused = {name: state for name, state in active.items() if state.paused}
        self._failing = {name for name, state in active.items() if state.failures > 0}
        for name in set(self._paused) - set(paused):
            self.metrics.rule_paused.labels(name).set(0)
        for name in paused:
            self.metrics.rule_paused.labels(name).set(1)
        self._paused = paused

    async def paused(self) -> dict[str, BreakerState]:
        """The paused rules now (read from the database)."""
        await self.refresh(force=True)
        return dict(self._paused)

    # -- counting ----------------------------------------------------------------------

    async def record(self, outcomes: Sequence[ActionOutcome]) -> None:
        """Count a run's outcomes; pause each rule that reached its limit. Never raises:
        a run's effects are already made, a breaker that cannot count must not undo that."""
        for name, attempts in attempts_by_rule(outcomes).items():
            try:
                await self._count(name, attempts)
            except Exception as exc:
                log.warning("could not count a rule's failures", rule=name, error=str(exc))

    async def _count(self, name: str, attempts: list[Attempt]) -> None:
        ruleset = self.rules()
        rule = _find(ruleset, name)
        if rule is None and ruleset is not None:
            # Not a rule of the set in force: the approvals' own bookkeeping (`@approvals`),
            # or a rule removed since it planned. There is nothing to pause.
            return
        pause_after = rule.pause_after if rule else DEFAULT_PAUSE_AFTER
        if pause_after == 0 or name in self._paused:
            return
        if all(a.ok for a in attempts) and name not in self._failing:
            return  # nothing to set back
        failures, state = await self.states.count(
            name,
            attempts,
            now=self.now(),
            pause_after=pause_after,
            digest=definition_digest(rule) if rule else "",
        )
        if failures:
            self._failing.add(name)
        else:
            self._failing.discard(name)
        if state is None:
            return
        self._paused[name] = state
        self.metrics.rule_paused.labels(name).set(1)
        log.warning("rule paused", rule=name, reason=state.reason)
        source = ruleset.sources.get(name) if ruleset else None
        notice = PauseNotice(
            rule=name,
            owner=rule.owner.lstrip("@") if rule and rule.owner else None,
            reason=state.reason or "",
            source=f"{source.file}:{source.line}" if source else None,
        )
        await self._tell_owner(notice, self._issue_project(failing_project(attempts)))

    async def _tell_owner(self, notice: PauseNotice, project: str | None) -> None:
        now = self.now()
        if self.gateway is None:
            error = "dry-run: no owner issue without a GitLab token"
            await self.states.set_issue(notice.rule, issue=None, error=error, now=now)
            return
        if project is None:
            error = "no project to open the owner's issue in: set HOOKS_ALERT_PROJECT"
            await self.states.set_issue(notice.rule, issue=None, error=error, now=now)
            return
        try:
            issue = await self.gateway.call(
                lambda gl: open_or_update(GitlabOps(gl, max_retries=3), project, notice)
            )
        except Exception as exc:
            error = f"could not open the owner's issue in {project}: {error_message(exc)}"
            log.warning("owner issue not opened", rule=notice.rule, error=error)
            await self.states.set_issue(notice.rule, issue=None, error=error, now=now)
            return
        ref = f"{project}#{issue.get('iid')}"
        url = str(issue["web_url"]) if issue.get("web_url") else None
        await self.states.set_issue(notice.rule, issue=ref, error=None, now=now, url=url)
        log.info("owner told", rule=notice.rule, issue=ref)

    def _issue_project(self, failing_project: str | None) -> str | None:
        return self.alert_project or failing_project

    # -- resuming ------------------------------------------------------------------------

    async def resume(self, name: str, *, by: str) -> BreakerState | None:
        """Resume a paused rule; None when it was not paused."""
        state = await self.states.resume(name, now=self.now(), by=by)
        if state is not None:
            self._paused.pop(name, None)
            self.metrics.rule_paused.labels(name).set(0)
            log.warning("rule resumed", rule=name, by=by)
            await self._note_resumed(state, by)
        return state

    async def _note_resumed(self, state: BreakerState, by: str) -> None:
        reference = state.owner_issue
        if self.gateway is None or not reference:
            return
        try:
            await self.gateway.call(
                lambda gl: note_resumed(GitlabOps(gl, max_retries=3), reference, state.rule, by)
            )
        except Exception as exc:  # the rule runs again all the same; the log says why
            log.warning("owner issue not told of the resume", error=error_message(exc))

    async def rules_loaded(self, ruleset: RuleSet | None) -> list[str]:
        """Resume every paused rule whose loaded definition differs from the paused one."""
        if ruleset is None:
            return []
        resumed = []
        for name, state in (await self.paused()).items():
            rule = _find(ruleset, name)
            changed = rule is not None and definition_digest(rule) != state.digest
            if changed and await self.resume(name, by="a changed version of the rule was loaded"):
                resumed.append(name)
        return resumed


def _find(ruleset: RuleSet | None, name: str) -> Rule | None:
    if ruleset is None:
        return None
    try:
        return ruleset.by_name(name)
    except KeyError:
        return None


def failing_project(attempts: list[Attempt]) -> str | None:
    """The project the last failing action acted in."""
    return next((a.project for a in reversed(attempts) if not a.ok and a.project), None)
