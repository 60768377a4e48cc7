"""The one backoff policy: a base doubled per attempt, capped, less up to `jitter` of it at random.

Used by every wait that grows with failures: delivery retries (HOOKS_RETRY_BASE_S and
HOOKS_RETRY_CAP_S), scheduled-run retries, the worker's pause while claims fail, the
executor's wait before looking for what a failed create made, finding the bot user while
GitLab is unreachable, the shared rate budget asking its database again, and the simulator's
webhook auto-disable (as GitLab does it).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

# More doublings than any cap needs; keeps the float from overflowing on absurd attempts.
MAX_DOUBLINGS = 62


@dataclass(frozen=True)
class Backoff:
    """`delay(1)` is `base_s`, each attempt doubles it, never beyond `cap_s`.

    With `jitter` j the delay is drawn between (1 - j) and all of that: 0.5 spreads retries
    of many failures over the second half of each step so they do not come back together.
    """

    base_s: float
    cap_s: float
    jitter: float = 0.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.jitter <= 1.0:
            raise ValueError("jitter is a fraction between 0 and 1")

    def ceiling(self, attempt: int) -> float:
        """The delay before attempt `attempt + 1` without jitter (attempts count from 1)."""
        doublings = min(max(attempt - 1, 0), MAX_DOUBLINGS)
        return min(self.cap_s, self.base_s * 2.0**doublings)

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """The wait after failed attempt `attempt`, in seconds."""
        ceiling = self.ceiling(attempt)
        if not self.jitter:
            return ceiling
        return ceiling * (rng or _rng).uniform(1.0 - self.jitter, 1.0)


_rng = random.Random()
