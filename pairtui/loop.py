"""Running the relay and the load generator: on uvloop when it is installed.

uvloop (``pip install 'pairtui[fast]'``) runs the same asyncio code with a
cheaper event loop and socket transports; under load it took the relay's
p99 keystroke latency from about 30 ms to about 24 ms on a 2-core machine
(docs/performance.md). Without it, the standard loop is used.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop when installed (and ``PAIRTUI_UVLOOP`` is not ``0``), else ``None``."""
    if os.environ.get("PAIRTUI_UVLOOP", "1") == "0":
        return None
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def run(main: Coroutine[Any, Any, T]) -> T:
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        return runner.run(main)
