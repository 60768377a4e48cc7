"""Who is looking at the dashboard: token login, signed session cookies, CSRF tokens.

The signing key is derived from the configured tokens, so every replica accepts a cookie
another replica issued, and changing either token ends every session.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from pydantic import SecretStr

from hooks.intake.auth import token_matches

Role = Literal["admin", "viewer"]
COOKIE = "hooks_ui"
SESSION_TTL_S = 12 * 3600
_KEY_LABEL = b"gitlab-hooks dashboard session v1"


@dataclass(frozen=True)
class Session:
    """A signed-in dashboard user: an admin may replay, a viewer only reads."""

    role: Role
    cookie: str
    # A bearer token in the request itself: no cookie, so no CSRF exposure.
    from_header: bool = False

    @property
    def admin(self) -> bool:
        return self.role == "admin"


def _secret(token: SecretStr | None) -> bytes:
    return token.get_secret_value().encode() if token is not None else b""


class Sessions:
    """Issues and checks session cookies and CSRF tokens for the configured tokens."""

    def __init__(
        self,
        admin_token: SecretStr | None,
        ui_token: SecretStr | None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._admin = _secret(admin_token)
        self._viewer = _secret(ui_token)
        material = hashlib.sha256(self._admin).digest() + hashlib.sha256(self._viewer).digest()
        self._key = hmac.new(_KEY_LABEL, material, hashlib.sha256).digest()
        self._clock = clock

    @property
    def enabled(self) -> bool:
        """The dashboard is off until at least one token is configured."""
        return bool(self._admin or self._viewer)

    def role_for(self, presented: str | None) -> Role | None:
        """The role a presented token grants, compared in constant time; None if neither."""
        # Both comparisons always run, so timing does not tell which token came close.
        is_admin = token_matches(presented, [self._admin] if self._admin else [])
        is_viewer = token_matches(presented, [self._viewer] if self._viewer else [])
        if is_admin:
            return "admin"
        return "viewer" if is_viewer else None

    def _sign(self, message: str) -> str:
        return hmac.new(self._key, message.encode(), hashlib.sha256).hexdigest()

    def issue(self, role: Role) -> str:
        """A cookie value naming the role and when it was issued, signed."""
        body = f"{role}.{int(self._clock())}"
        return f"{body}.{self._sign(body)}"

    def read(self, cookie: str | None) -> Session | None:
        """The session a cookie carries, if its signature holds and it has not expired."""
        if not cookie or not self.enabled:
            return None
        parts = cookie.split(".")
        if len(parts) != 3 or parts[0] not in ("admin", "viewer") or not parts[1].isdigit():
            return None
        body = f"{parts[0]}.{parts[1]}"
        if not hmac.compare_digest(parts[2].encode(), self._sign(body).encode()):
            return None
        if not 0 <= self._clock() - int(parts[1]) < SESSION_TTL_S:
            return None
        role: Role = "admin" if parts[0] == "admin" else "viewer"
        if role == "admin" and not self._admin:
            return None
        return Session(role=role, cookie=cookie)

    def csrf_token(self, session: Session) -> str:
        """The token a form must send back: bound to the session, unknown to other sites."""
        return self._sign("csrf." + session.cookie)

    def from_header(self, authorization: str | None) -> Session | None:
        """A session for `Authorization: Bearer <admin or dashboard token>` (scripts, curl)."""
        if not authorization or not authorization.startswith("Bearer "):
            return None
        role = self.role_for(authorization[len("Bearer ") :].strip())
        if role is None:
            return None
        return Session(role=role, cookie="", from_header=True)

    def csrf_ok(self, session: Session, presented: str | None) -> bool:
        """True when a form carried this session's CSRF token (constant time)."""
        if session.from_header:
            return True
        if not presented:
            return False
        return hmac.compare_digest(presented.encode(), self.csrf_token(session).encode())
