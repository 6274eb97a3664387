"""``pair serve``: run a relay until SIGTERM or SIGINT, then shut down gracefully."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from pairtui.dirs import relay_data_dir
from server.limits import RateLimit
from server.lock import DataDirBusyError, DataDirLock
from server.logs import configure, get_logger
from server.relay import Relay, RelayConfig
from server.room import RoomLimits
from server.store.records import StoreError
from server.store.sqlite import SQLiteStore

DEFAULT_PORT = 8765


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: %(default)s)"
    )
    parser.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help="port (default: %(default)s; 0 picks a free one)",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="where rooms are stored (default: the user data directory)",
    )
    parser.add_argument(
        "--max-frame", type=int, default=1 << 20, help="largest message in bytes (default: 1 MiB)"
    )
    parser.add_argument(
        "--max-document",
        type=int,
        default=RoomLimits().max_document_length,
        help="largest file in characters (default: %(default)s)",
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=RateLimit().rate,
        help="messages a second per connection (default: %(default)s)",
    )
    parser.add_argument(
        "--history",
        type=int,
        default=RoomLimits().history,
        help="ops kept per file for catch-ups (default: %(default)s)",
    )
    parser.add_argument(
        "--fsync",
        action="store_true",
        help="make every commit survive a power cut, not only a crash (slower)",
    )
    parser.add_argument(
        "--log-level", default="info", choices=["debug", "info", "warning", "error"]
    )
    parser.add_argument("--print-port", action="store_true", help=argparse.SUPPRESS)


def config_from(args: argparse.Namespace) -> RelayConfig:
    defaults = RateLimit()
    return RelayConfig(
        host=args.host,
        port=args.port,
        max_frame=args.max_frame,
        rate=RateLimit(
            rate=args.rate, burst=max(defaults.burst, args.rate * 3), flood=defaults.flood
        ),
        room_limits=RoomLimits(max_document_length=args.max_document, history=args.history),
    )


async def run(args: argparse.Namespace) -> int:
    configure(args.log_level)
    data_dir = args.data_dir or relay_data_dir()
    lock = DataDirLock(data_dir)
    try:
        lock.acquire()
    except DataDirBusyError as error:
        print(f"pair serve: {error}.", file=sys.stderr)
        return 1
    try:
        return await _serve(args, data_dir)
    finally:
        lock.release()


async def _serve(args: argparse.Namespace, data_dir: Path) -> int:
    log = get_logger()
    try:
        store = await SQLiteStore.open(data_dir, synchronous="FULL" if args.fsync else "NORMAL")
    except StoreError as error:
        print(
            f"pair serve: {error}. Check that {data_dir} is writable, or pass --data-dir.",
            file=sys.stderr,
        )
        return 1
    relay = Relay(store, config_from(args))
    try:
        await relay.start()
    except OSError as error:
        await store.close()
        print(
            f"pair serve: cannot listen on {args.host}:{args.port}: {error.strerror or error}. "
            "Is another relay running there? Try --port.",
            file=sys.stderr,
        )
        return 1
    if args.print_port:
        print(f"PORT {relay.port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    log.info("relay ready", extra={"data_dir": str(data_dir), "port": relay.port})
    await stop.wait()
    log.info("shutting down")
    await relay.shutdown()
    await store.close()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="pair serve", description="Run a pairtui relay.")
    add_arguments(parser)
    return asyncio.run(run(parser.parse_args(argv)))
