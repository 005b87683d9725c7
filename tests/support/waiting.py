"""Polling with a deadline: the only way tests wait."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


def wait_for(predicate: Callable[[], T], timeout: float, what: str, interval: float = 0.2) -> T:
    """Poll ``predicate`` until it returns something truthy, and return that.

    Exceptions count as "not yet" (objects often 404 until a controller creates them); the last one
    is reported if the deadline passes, with ``what`` naming the condition that never held.
    """
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            value = predicate()
        except Exception as exc:
            value, last = None, exc  # type: ignore[assignment]
        else:
            if value:
                return value
            last = value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}; last result: {last!r}")
        time.sleep(interval)


async def wait_for_async(predicate: Callable[[], Awaitable[T]], timeout: float, what: str, interval: float = 0.2) -> T:
    """``wait_for`` inside an event loop: the loop keeps running (watches deliver) between polls."""
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            value = await predicate()
        except Exception as exc:
            value, last = None, exc  # type: ignore[assignment]
        else:
            if value:
                return value
            last = value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}; last result: {last!r}")
        await asyncio.sleep(interval)
