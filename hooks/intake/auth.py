"""Is a delivery really from our GitLab? Secret tokens and Standard Webhooks signatures."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence


def token_matches(presented: str | None, secrets: Sequence[bytes]) -> bool:
    """True if the X-Gitlab-Token equals one of the configured secrets (constant time)."""
    if not presented or not secrets:
        return False
    given = presented.encode()
    # Compare against every secret, without stopping early, so timing does not
    # tell which rotation slot (if any) came close.
    matched = False
    for secret in secrets:
        matched |= hmac.compare_digest(given, secret)
    return matched


def signing_key(token: str) -> bytes:
    """The HMAC key inside a `whsec_<base64>` signing token."""
    raw = token.removeprefix("whsec_")
    try:
        return base64.b64decode(raw, validate=True)
    except ValueError as exc:
        raise ValueError("signing token is not 'whsec_' followed by base64") from exc


def sign(key: bytes, msg_id: str, timestamp: str, body: bytes) -> str:
    """The `v1,<base64>` signature GitLab computes over `id.timestamp.body`."""
    payload = msg_id.encode() + b"." + timestamp.encode() + b"." + body
    digest = hmac.new(key, payload, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


class SignatureVerifier:
    """Checks Standard Webhooks signatures, their age, and refuses exact replays."""

    def __init__(self, key: bytes, tolerance_s: int = 300, remember: int = 10_000) -> None:
        self._key = key
        self._tolerance = tolerance_s
        self._remember = remember
        self._seen: OrderedDict[tuple[str, str], float] = OrderedDict()

    def verify(self, headers: Mapping[str, str], body: bytes, now: float | None = None) -> bool:
        """True for a fresh, correctly signed message not seen before."""
        msg_id = headers.get("webhook-id", "")
        stamp = headers.get("webhook-timestamp", "")
        signatures = headers.get("webhook-signature", "")
        if not (msg_id and stamp.isdigit() and signatures):
            return False
        now = time.time() if now is None else now
        if abs(now - int(stamp)) > self._tolerance:
            return False
        expected = sign(self._key, msg_id, stamp, body).encode()
        # The header may carry several space-separated signatures (key rotation).
        valid = False
        for candidate in signatures.split():
            valid |= hmac.compare_digest(candidate.encode(), expected)
        if not valid:
            return False
        return self._first_sight(msg_id, stamp, now)

    def _first_sight(self, msg_id: str, stamp: str, now: float) -> bool:
        # A captured request replayed within the tolerance window carries the
        # same id and timestamp; GitLab signs every new attempt afresh.
        while self._seen and next(iter(self._seen.values())) < now - self._tolerance:
            self._seen.popitem(last=False)
        if (msg_id, stamp) in self._seen:
            return False
        self._seen[(msg_id, stamp)] = now
        if len(self._seen) > self._remember:
            self._seen.popitem(last=False)
        return True
