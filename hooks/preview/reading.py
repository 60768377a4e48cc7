"""How a preview reads GitLab: today's state, read-only, each subject read once.

The engine reads through the `Reader` protocol, which has only reads. A preview plans the
same milestone close or sweep many times (once per recorded delivery, once per rule set),
so every answer (and every failure) is kept for the whole preview: one request per subject.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from hooks.gitlab.gateway import Gateway
from hooks.gitlab.ops import GitlabOps
from hooks.rules.gitlab_reader import GitlabReader
from hooks.rules.reader import (
    Reader,
    ReaderError,
    StaticReader,
)
from hooks.rules.reads import Read, ReaderWrapper
from hooks.service.config import Settings

T = TypeVar("T")


@dataclass
class ReadLog:
    """What the preview read: one entry per subject, and how often a plan asked again."""

    subjects: list[str] = field(default_factory=list)
    hits: int = 0
    failures: dict[str, str] = field(default_factory=dict)


class CachingReader(ReaderWrapper):
    """A reader that asks the inner reader once per subject and remembers the answer."""

    def __init__(self, inner: Reader) -> None:
        super().__init__(inner)
        self.log = ReadLog()
        self._answers: dict[tuple[Any, ...], Any] = {}
        self._lock = threading.Lock()

    def read(self, read: Read[T]) -> T:
        with self._lock:
            if read.key in self._answers:
                self.log.hits += 1
                kept: T = _given(self._answers[read.key])
                return kept
        try:
            answer: Any = super().read(read)
        except ReaderError as exc:
            answer = exc
        except Exception as exc:  # GitLab said no: the rule that needed it records why
            answer = ReaderError(f"cannot read {read.what}: {type(exc).__name__}: {exc}")
        with self._lock:
            self._answers[read.key] = answer
            self.log.subjects.append(read.what)
            if isinstance(answer, ReaderError):
                self.log.failures[read.what] = str(answer)
        given: T = _given(answer)
        return given


def _given(answer: Any) -> Any:
    """A kept answer as a fresh list (callers may extend it), or the kept failure raised."""
    if isinstance(answer, ReaderError):
        raise answer
    return list(answer) if isinstance(answer, list) else answer


def offline_reader() -> Reader:
    """No token: rules that read GitLab are not evaluated (and the report names them)."""
    return StaticReader(offline=True)


def settings_reader(settings: Settings) -> tuple[Reader, bool]:
    """A reader over GitLab for a command (its own client), and whether it reads GitLab."""
    if settings.gitlab_token is None:
        return offline_reader(), False
    import gitlab

    gl = gitlab.Gitlab(
        settings.gitlab_url,
        private_token=settings.gitlab_token.get_secret_value(),
        timeout=settings.gitlab_timeout_s,
        retry_transient_errors=True,
        per_page=100,
    )
    return GitlabReader(GitlabOps(gl, max_retries=2)), True


def gateway_reader(gateway: Gateway | None, loop: asyncio.AbstractEventLoop) -> tuple[Reader, bool]:
    """A reader through the service's gateway (its threads and rate budget), for a preview
    planned in a worker thread; offline without a gateway (no token)."""
    if gateway is None:
        return offline_reader(), False

    async def call(read: Callable[[Reader], Any]) -> Any:
        return await gateway.call(
            lambda gl: read(GitlabReader(GitlabOps(gl, max_retries=gateway.max_retries)))
        )

    return ThreadBridgeReader(loop, call), True


class ThreadBridgeReader(ReaderWrapper):
    """A reader whose reads run as coroutines on the service's loop (e.g. through its
    gateway, sharing the rate budget) while the planning runs in a worker thread."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        call: Callable[[Callable[[Reader], Any]], Any],
    ) -> None:
        super().__init__()
        self._loop = loop
        self._call = call

    def _run(self, read: Callable[[Reader], T]) -> T:
        future = asyncio.run_coroutine_threadsafe(self._call(read), self._loop)
        result: T = future.result()
        return result

    def read(self, read: Read[T]) -> T:
        return self._run(read.run)
