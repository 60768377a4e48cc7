"""What every route of the running service shares: its parts and the key they sit under.

The app assembly (`hooks.service.app`) builds a `Service` and puts it under `SERVICE`; route
modules (intake, health, admin, dashboard) read it from there and never import the assembly.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

from aiohttp import web

from hooks.intake.auth import SignatureVerifier
from hooks.processing.worker import Worker
from hooks.service.config import Settings
from hooks.service.metrics import Metrics
from hooks.service.runtime import Runtime
from hooks.storage.store import Store

# How long a route waits for the database before answering without it.
STORE_TIMEOUT_S = 5.0


@dataclass
class Check:
    """The result of one readiness check."""

    ok: bool
    detail: str = "ok"


ReadyCheck = Callable[[], Awaitable[Check]]


@dataclass
class Service:
    """The parts of one running instance, shared by handlers and lifecycle hooks."""

    settings: Settings
    store: Store
    worker: Worker
    metrics: Metrics
    verifier: SignatureVerifier | None
    now: Callable[[], datetime]
    ready_checks: dict[str, ReadyCheck]
    runtime: Runtime | None = None
    # Called after a successful rules reload (the scheduler rebuilds its jobs).
    rules_listeners: list[Callable[[], None]] = field(default_factory=list)

    def on_rules_reloaded(self) -> None:
        for listener in self.rules_listeners:
            listener()


SERVICE = web.AppKey("service", Service)
