"""Waiting well: backoff delays, timeouts that never swallow a cancellation, and the short
human wording of a failed connection, a refusal and a wait, for the status bar.

Plain functions with no state; `connection.py` uses them between tries.
"""

from __future__ import annotations

import asyncio
import math
import socket
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar

from protocol import PartReason

T = TypeVar("T")


def refusal_phrase(reason: str) -> str:
    """A refusing BYE reason, as the status bar says it (`the room is full`)."""
    return _REFUSALS.get(reason, reason)


_REFUSALS = {PartReason.SERVER_FULL: "the room is full", PartReason.BANNED: "you are banned",
             PartReason.BAD_PASSWORD: "wrong password"}


def describe_wait(seconds: float) -> str:
    """`5s`, `0.4s`: a wait as the status bar counts it down (whole seconds from 1 s)."""
    return f"{math.ceil(seconds)}s" if seconds >= 1 else f"{round(seconds, 1):g}s"


async def count_down(delay: float, show: Callable[[str], None]) -> None:
    """Wait `delay` seconds, calling `show` with the time left (`5s`, `4s`, ...) as it goes."""
    deadline = time.monotonic() + delay
    while (left := deadline - time.monotonic()) > 0:
        show(describe_wait(left))
        # Wake when the whole seconds shown change (5s, 4s, ...), or at the end.
        await asyncio.sleep(left - (math.ceil(left) - 1) if left > 1 else left)


def retry_delays(first: float, cap: float) -> Iterator[float]:
    """Exponential backoff: `first`, twice that, ... never more than `cap`, for ever."""
    delay = first
    while True:
        yield min(delay, cap)
        delay *= 2


async def within(seconds: float, awaitable: Awaitable[T]) -> T:
    """Await `awaitable` for at most `seconds`, else raise `asyncio.TimeoutError`.

    Unlike `asyncio.wait_for` before Python 3.12, a cancellation of the caller is never
    swallowed when it coincides with the awaitable finishing, so a task that is told to
    stop (the application ending) always stops.
    """
    task = asyncio.ensure_future(awaitable)
    try:
        done, _ = await asyncio.wait({task}, timeout=seconds)
    except asyncio.CancelledError:
        task.cancel()
        raise
    if not done:
        task.cancel()
        raise asyncio.TimeoutError()
    return task.result()


def describe_error(error: BaseException) -> str:
    """A short, human reason for a failed connection."""
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(error, socket.gaierror):
        return "unknown host"
    if isinstance(error, asyncio.TimeoutError):
        return "no answer"
    if isinstance(error, ConnectionResetError):
        return "connection reset"
    return getattr(error, "strerror", None) or type(error).__name__
