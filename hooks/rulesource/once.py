"""Doing one report to GitLab once (a commit comment, a merge request check) through the ledger.

The key names what is reported on (a commit, a merge request at a head commit): a second
delivery of the same push, a replica racing this one, or a retry after a crash sees the first.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, Literal

from hooks.gitlab.gateway import error_message
from hooks.storage.actions import ActionLog, ClaimRequest, Finish
from hooks.storage.store import Store

Done = Literal["done", "already", "busy"]
# `resumed` is True when an earlier attempt may have written already: look before writing.
Work = Callable[[bool], Awaitable[dict[str, Any]]]


class Once:
    """Claims a key in the actions ledger, does the work, records it done."""

    def __init__(
        self, store: Store, *, owner: str, now: Callable[[], datetime], lease_s: float
    ) -> None:
        self.log = ActionLog(store)
        self.owner = owner
        self.now = now
        self.lease = timedelta(seconds=lease_s)

    async def run(
        self,
        key: str,
        *,
        action: str,
        subject: str,
        params: dict[str, Any],
        work: Work,
        delivery_id: int | None = None,
    ) -> Done:
        now = self.now()
        request = ClaimRequest(key, "hooks/rules", action, subject, params, delivery_id, None)
        claims = await self.log.claim_many(
            [request], owner=self.owner, lease=self.lease, now=now, recent_since=now
        )
        claim, _row, _recent = claims[key]
        if claim == "finished":
            return "already"
        if claim == "busy":
            return "busy"
        try:
            result = await work(claim == "resume")
        except Exception as exc:
            await self.log.finish_many(
                [Finish(key, "failed", self.now(), error=error_message(exc)[:2000])], self.owner
            )
            raise
        await self.log.finish_many([Finish(key, "done", self.now(), result=result)], self.owner)
        return "done"
