"""The rule set in force in this process, and what its last (re)load said."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import structlog

from hooks.rules.loader import RuleErrors, load_rules
from hooks.rules.model import RuleSet
from hooks.service.metrics import Metrics

log = structlog.get_logger("hooks.runtime")


@dataclass
class LoadedRules:
    """The rule set in force, and what the last (re)load said."""

    directory: Path
    rules: RuleSet | None = None
    loaded_at: datetime | None = None
    errors: list[str] = field(default_factory=list)
    metrics: Metrics | None = None
    approval_setting: str | None = None  # HOOKS_APPROVAL_PROJECT
    # Where the rules come from, as the dashboard says it ("rules/" or "group/rules@main").
    origin: str = ""

    def load(self, now: datetime) -> list[str]:
        """Load the folder; on errors keep the rules in force and return the errors."""
        try:
            fresh = load_rules(self.directory, approval_setting=self.approval_setting)
        except RuleErrors as exc:
            return self.refuse([str(e) for e in exc.errors])
        except OSError as exc:
            return self.refuse([f"{self.directory}: {exc.strerror or exc}"])
        self.install(fresh, now)
        self.origin = f"{self.directory.name}/"
        log.info(
            "rules loaded",
            directory=str(self.directory),
            rules=len(fresh.rules),
            version=fresh.version,
        )
        if not fresh.rules:
            log.warning(
                "no rules: deliveries are stored and nothing is done", directory=str(self.directory)
            )
        return []

    def install(self, fresh: RuleSet, now: datetime) -> None:
        """Put `fresh` in force: one assignment, so a delivery being planned keeps its set."""
        self.rules, self.loaded_at, self.errors = fresh, now, []
        if self.metrics is not None:
            self.metrics.show_rules_version(fresh.version, fresh.origin)
            self.metrics.rules_refused.set(0)

    def refuse(self, errors: list[str]) -> list[str]:
        """A version that does not validate: the rules in force stay; say why."""
        self.errors = errors
        if self.metrics is not None:
            self.metrics.rules_refused.set(len(errors))
        return errors
