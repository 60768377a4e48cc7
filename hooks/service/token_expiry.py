"""The bot's own token: when it expires (GET /personal_access_tokens/self), read at start and daily.

GitLab ends a token on its `expires_at` date; `active: false` means it is expired or revoked.
A GitLab without the endpoint (older versions, or a token kind it does not answer for: 404)
or one refusing to say (401) leaves the expiry unknown, which is reported and never fails.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

import gitlab
import structlog

from hooks.gitlab.gateway import Gateway, error_message
from hooks.gitlab.ops import GitlabOps
from hooks.periodic import Periodic
from hooks.service.metrics import Metrics

log = structlog.get_logger("hooks.token")

DAY_S = 86400.0
# A warning once each of these many days (or fewer) remain, once per threshold per process.
WARN_DAYS = (14, 3)


@dataclass(frozen=True)
class TokenState:
    """What /readyz says about the token: `ok` False only when it is expired or revoked."""

    ok: bool
    detail: str


class TokenExpiry:
    """Reads the token's expiry, keeps it for /readyz and the metric, warns as it nears."""

    def __init__(
        self,
        gateway: Gateway | None,
        metrics: Metrics,
        *,
        now: Callable[[], datetime],
    ) -> None:
        self.gateway = gateway
        self.metrics = metrics
        self.now = now
        self.state = TokenState(True, "no token" if gateway is None else "expiry not read yet")
        self._warned: set[int] = set()
        self._periodic = Periodic(now)

    async def read(self) -> TokenState:
        """Ask GitLab now; a failure to ask is an unknown expiry, not an error."""
        if self.gateway is None:
            return self.state
        try:
            token = await self.gateway.call(lambda gl: GitlabOps(gl, max_retries=1).token_self())
        except gitlab.exceptions.GitlabError as exc:
            self.state = self._unknown(_reason(exc))
        except Exception as exc:
            self.state = self._unknown(error_message(exc))
        else:
            self.state = self._judge(token)
        return self.state

    def _unknown(self, reason: str) -> TokenState:
        self.metrics.token_expiry.clear()
        return TokenState(True, f"expiry unknown: {reason}")

    def _judge(self, token: dict[str, Any]) -> TokenState:
        name = str(token.get("name") or "")
        raw = token.get("expires_at")
        expires = date.fromisoformat(str(raw)[:10]) if raw else None
        self.metrics.token_expiry.clear()
        if expires is not None:
            end = datetime.combine(expires, time(0), UTC).timestamp()
            self.metrics.token_expiry.labels(name).set(end)
        days = (expires - self.now().astimezone(UTC).date()).days if expires else None
        if token.get("revoked"):
            reason = "revoked"
        elif expires is not None and days is not None and days <= 0:  # ends at 00:00 UTC
            reason = f"expired on {expires.isoformat()}"
        elif token.get("active") is False:
            reason = "no longer active (expired or revoked)"
        else:
            reason = ""
        if reason:
            log.warning("the GitLab token is unusable", token_name=name, reason=reason)
            return TokenState(False, reason)
        if expires is None or days is None:
            return TokenState(True, "never expires")
        detail = f"expires {expires.isoformat()} ({_days(days)})"
        crossed = [t for t in WARN_DAYS if days <= t and t not in self._warned]
        if crossed:
            self._warned.update(t for t in WARN_DAYS if days <= t)
            log.warning(
                "the GitLab token expires soon: renew it",
                token_name=name,
                expires_at=expires.isoformat(),
                days_left=days,
            )
        if days <= WARN_DAYS[0]:
            detail += ": renew it"
        return TokenState(True, detail)

    def start(self) -> None:
        """Read again once a day, at 00:00 UTC (the read at start is `read()` itself)."""
        if self.gateway is None:
            return
        until_midnight = DAY_S - self.now().timestamp() % DAY_S
        self._periodic.every(
            "token-expiry", DAY_S, lambda _slot: self.read(), first_after_s=until_midnight
        )

    async def stop(self) -> None:
        await self._periodic.stop()


def _days(days: int) -> str:
    return "today" if days == 0 else "1 day" if days == 1 else f"{days} days"


def _reason(exc: gitlab.exceptions.GitlabError) -> str:
    code = exc.response_code
    if code == 404:
        return "GitLab has no GET /personal_access_tokens/self for this token (404)"
    if code == 401:
        return "GitLab does not say for this token (401)"
    return error_message(exc)
