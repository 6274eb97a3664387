"""Waiting in async tests: poll a condition on the event loop until it holds, or fail."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


async def until(condition: Callable[[], object], timeout: float = 10.0) -> None:
    """Return once ``condition()`` is true; fail the test after ``timeout`` seconds.

    Polling, not timing: the machine is noisy, so tests wait for what they
    expect rather than for a fixed while.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"condition not reached within {timeout:g} s")
        await asyncio.sleep(0.01)
