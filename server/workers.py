"""``pair serve --workers N``: N relay processes sharing one port, supervised.

Each worker is ``python -m server`` with the same options and
``--reuse-port`` (SO_REUSEPORT), so the kernel spreads new connections over
them; all of them use the same Redis, which is what lets a room's members be
on different workers. A worker that dies is started again (its clients
reconnect to the others meanwhile). SIGTERM or SIGINT stops them all
gracefully.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys

from server.logs import get_logger

RESTART_DELAY = 1.0


def worker_command(argv: list[str]) -> list[str]:
    """The command line of one worker: ours, with ``--workers 1 --reuse-port``."""
    kept, skip = [], False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg == "--workers":
            skip = True
            continue
        if arg.startswith("--workers="):
            continue
        kept.append(arg)
    return [sys.executable, "-m", "server", *kept, "--workers", "1", "--reuse-port"]


async def supervise(args: argparse.Namespace) -> int:
    log = get_logger()
    if not args.redis:
        print("pair serve: --workers needs --redis (SQLite serves one process)", file=sys.stderr)
        return 2
    if args.workers < 1 or args.port == 0:
        print("pair serve: --workers takes N >= 1 and a fixed --port", file=sys.stderr)
        return 2
    argv = [a for a in sys.argv[1:] if a != "serve"]
    command = worker_command(argv)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)

    async def keep_running(number: int) -> None:
        while not stop.is_set():
            process = await asyncio.create_subprocess_exec(*command)
            log.info("worker started", extra={"worker": number, "pid": process.pid})
            waiter = asyncio.ensure_future(process.wait())
            stopper = asyncio.ensure_future(stop.wait())
            await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
            if stop.is_set():
                with contextlib.suppress(ProcessLookupError):
                    process.send_signal(signal.SIGTERM)
                await waiter
                return
            stopper.cancel()
            log.error(
                "worker died; starting it again", extra={"worker": number, "code": waiter.result()}
            )
            await asyncio.sleep(RESTART_DELAY)

    await asyncio.gather(*(keep_running(n) for n in range(args.workers)))
    return 0
