"""Failed dashboard sign-ins, limited per client address (in memory: each process counts its own).

The address is `request.remote`, the peer of the TCP connection: the service has no setting
that trusts a proxy, so X-Forwarded-For (which any client can write) is never read.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable

# Addresses remembered at most; past it, those whose failures all left the window are dropped.
_SWEEP_AT = 10_000


class LoginLimiter:
    """At most `attempts` failed sign-ins from one address within `window_s` seconds."""

    def __init__(
        self, attempts: int, window_s: float, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.attempts = attempts
        self.window_s = window_s
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, address: str, now: float) -> deque[float]:
        failures = self._failures.get(address, deque())
        while failures and failures[0] <= now - self.window_s:
            failures.popleft()
        if not failures:
            self._failures.pop(address, None)
        return failures

    def retry_after(self, address: str) -> int | None:
        """Seconds until `address` may try again (the window frees a slot); None: it may now."""
        now = self._clock()
        failures = self._recent(address, now)
        if len(failures) < self.attempts:
            return None
        return max(1, math.ceil(failures[-self.attempts] + self.window_s - now))

    def failed(self, address: str) -> None:
        """Count a failed sign-in from `address`."""
        now = self._clock()
        if len(self._failures) >= _SWEEP_AT:
            for known in list(self._failures):
                self._recent(known, now)
        self._failures.setdefault(address, deque()).append(now)
