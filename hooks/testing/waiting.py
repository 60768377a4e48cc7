"""The one way tests (and `hooks demo`) wait for an outcome: poll it, never sleep a guess.

`eventually(check)` calls `check` (a function, sync or async) until it returns something
truthy, and returns that; an exception it raises (a failed assert, a refused connection)
counts as "not yet". On timeout it fails with the last value seen and the last exception, so
a failing test says what it saw rather than "timed out". `eventually_sync` is the same for
code without an event loop (a thread, a subprocess check).
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, overload

T = TypeVar("T")

WITHIN_S = 10.0
EVERY_S = 0.02


class NotInTime(AssertionError, TimeoutError):
    """The condition did not hold in time: a failed assertion, and a timeout for callers."""


def _failure(what: str, within_s: float, last: object, error: BaseException | None) -> NotInTime:
    seen = f"last raised {type(error).__name__}: {error}" if error else f"last saw {last!r}"
    return NotInTime(f"{what} did not hold within {within_s}s; {seen}")


def _name(check: Callable[..., object], what: str | None) -> str:
    return what or getattr(check, "__qualname__", None) or repr(check)


@overload
async def eventually(
    check: Callable[[], Awaitable[T]],
    *,
    within_s: float = ...,
    every_s: float = ...,
    what: str | None = ...,
    ignoring: tuple[type[Exception], ...] = ...,
) -> T: ...


@overload
async def eventually(
    check: Callable[[], T],
    *,
    within_s: float = ...,
    every_s: float = ...,
    what: str | None = ...,
    ignoring: tuple[type[Exception], ...] = ...,
) -> T: ...


async def eventually(
    check: Callable[[], Any],
    *,
    within_s: float = WITHIN_S,
    every_s: float = EVERY_S,
    what: str | None = None,
    ignoring: tuple[type[Exception], ...] = (Exception,),
) -> Any:
    """Poll `check()` every `every_s` until it returns a truthy value; return that value.

    Exceptions of the `ignoring` types mean "not yet"; any other fails at once.
    """
    deadline = time.monotonic() + within_s
    last: object = None
    error: BaseException | None = None
    while True:
        try:
            value = check()
            if inspect.isawaitable(value):
                value = await value
            if value:
                return value
            last, error = value, None
        except ignoring as exc:  # "not yet": kept for the report
            error = exc
        if time.monotonic() >= deadline:
            raise _failure(_name(check, what), within_s, last, error) from error
        await asyncio.sleep(every_s)


def eventually_sync(
    check: Callable[[], T],
    *,
    within_s: float = WITHIN_S,
    every_s: float = EVERY_S,
    what: str | None = None,
    ignoring: tuple[type[Exception], ...] = (Exception,),
) -> T:
    """`eventually` for a caller without an event loop: blocks its thread while polling."""
    deadline = time.monotonic() + within_s
    last: object = None
    error: BaseException | None = None
    while True:
        try:
            value = check()
            if value:
                return value
            last, error = value, None
        except ignoring as exc:
            error = exc
        if time.monotonic() >= deadline:
            raise _failure(_name(check, what), within_s, last, error) from error
        time.sleep(every_s)
