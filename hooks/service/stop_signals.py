"""SIGTERM and SIGINT for `hooks serve`: the first asks for one clean stop, the rest change nothing.

`timeout`, a kill of the process group and Ctrl+C pressed twice each deliver a stop signal
twice; one may also arrive while the service is still starting (migrating the database,
before it listens). Neither may interrupt start-up half-way or cut the drain short: a signal
is only recorded where it lands and the event loop is told, so start-up finishes, the service
drains and says "service stopped", and the process exits 0.

The handler is installed as the first thing `hooks serve` does (`python -m hooks serve` and the
`hooks` command do it even before the rest of the program is imported) and stays until the
service has stopped; then stop signals are ignored while Python shuts down, so none can fall
back on the default action, which kills the process.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported when used: the entry point installs the handler before them
    import asyncio
    from types import FrameType

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class StopSignals:
    """Records stop signals; tells the running event loop about each one."""

    def __init__(self) -> None:
        self.received: list[signal.Signals] = []
        self._previous: dict[signal.Signals, Any] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None

    @property
    def installed(self) -> bool:
        return bool(self._previous)

    def install(self) -> None:
        """Catch the stop signals from now on (idempotent)."""
        if not self._previous:
            self.received = []  # a signal of an earlier run in this process is no request
            self._previous = {sig: signal.signal(sig, self._handle) for sig in STOP_SIGNALS}

    def uninstall(self) -> None:
        """Give the stop signals back to the handlers they had before `install`."""
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous = {}

    def ignore_from_now(self) -> None:
        """The service has stopped and the process is exiting: ignore further stop signals.

        Python's own shutdown puts the default action back on signals that have a Python
        handler, so one arriving in the last milliseconds would kill the process (-15);
        an ignored signal is left ignored.
        """
        for sig in STOP_SIGNALS:
            signal.signal(sig, signal.SIG_IGN)
        self._previous = {}

    @contextlib.contextmanager
    def caught(self) -> Iterator[StopSignals]:
        """Catch them for a block; handlers installed earlier (by the entry point) stay."""
        mine = not self.installed
        self.install()
        try:
            yield self
        finally:
            if mine:
                self.uninstall()

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        # Runs between two bytecodes of the main thread: record and wake the loop, nothing
        # more (writing a log line here could re-enter the stream being written).
        sig = signal.Signals(signum)
        self.received.append(sig)
        loop = self._loop
        if loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(self._notice, sig)

    def attach(self) -> asyncio.Event:
        """An event set at the first stop signal, including one received before this call."""
        import asyncio

        self._stop = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        for sig in list(self.received):
            self._notice(sig)
        return self._stop

    def detach(self) -> None:
        """The loop is about to end: later signals are only recorded."""
        self._loop = None

    def _notice(self, sig: signal.Signals) -> None:
        import structlog

        log = structlog.get_logger("hooks.serve")
        if self._stop is None or self._loop is None:  # detached: the service has stopped
            return
        if self._stop.is_set():
            log.info("already stopping; signal ignored", signal=sig.name)
            return
        log.info("stopping", signal=sig.name)
        self._stop.set()


STOP = StopSignals()
