"""``pair serve``: run a relay until SIGTERM or SIGINT, then shut down gracefully."""

from __future__ import annotations

import argparse
import asyncio
import gc
import signal
import ssl
import sys
from collections.abc import Sequence
from pathlib import Path

from redis.exceptions import RedisError

from pairtui.core import protocol as p
from pairtui.dirs import relay_data_dir
from pairtui.loop import run as run_loop
from server.auth import AdminTokens, TokensFileError
from server.cluster import Cluster, open_cluster
from server.gate import GateLimits, is_loopback
from server.limits import RateLimit
from server.lock import DataDirBusyError, DataDirLock
from server.logs import configure, get_logger
from server.relay import Relay, RelayConfig
from server.room import RoomLimits
from server.store.base import Store
from server.store.records import StoreError
from server.store.redis import RedisStore, safe_url
from server.store.sqlite import SQLiteStore

DEFAULT_PORT = 8765
GC_THRESHOLDS = (50_000, 20, 50)


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
    scale = parser.add_argument_group("scale (docs/deploy.md)")
    scale.add_argument(
        "--redis",
        metavar="URL",
        help="keep rooms in Redis (redis://host:6379/0) instead of SQLite, so that several "
        "relay processes or machines serve the same rooms",
    )
    scale.add_argument(
        "--redis-prefix", default="pairtui", help="key prefix in Redis (default: %(default)s)"
    )
    scale.add_argument(
        "--workers",
        type=int,
        default=1,
        help="relay processes sharing the port (needs --redis; default: %(default)s)",
    )
    scale.add_argument("--reuse-port", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument(
        "--fsync",
        action="store_true",
        help="make every commit survive a power cut, not only a crash (slower)",
    )
    access = parser.add_argument_group("access (docs/security.md)")
    access.add_argument(
        "--open",
        action="store_true",
        help="let anyone who reaches the relay create and join rooms without keys "
        "(the default only on 127.0.0.1)",
    )
    access.add_argument(
        "--require-keys",
        action="store_true",
        help="every room needs keys, even on 127.0.0.1 (use it behind a reverse proxy)",
    )
    access.add_argument(
        "--tokens-file",
        type=Path,
        help="only holders of a token in this file may create rooms "
        "(add one with 'pair new-token FILE')",
    )
    access.add_argument("--certfile", type=Path, help="TLS certificate (PEM): serve wss://")
    access.add_argument("--keyfile", type=Path, help="TLS private key (PEM) for --certfile")
    access.add_argument(
        "--allow-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="a browser origin allowed to connect, e.g. https://camp.example.org "
        "(repeatable; clients that send no Origin, like pair join, are always allowed)",
    )
    access.add_argument(
        "--max-connections-per-address",
        type=int,
        default=GateLimits().max_per_address,
        help="open connections one address may hold (default: %(default)s; loopback exempt)",
    )
    voice = parser.add_argument_group("voice (docs/voice.md)")
    voice.add_argument(
        "--stun",
        action="append",
        default=[],
        metavar="URL",
        help="a STUN server handed to everyone joining a voice call, e.g. "
        "stun:stun.example.org:3478 (repeatable; none needed on one LAN)",
    )
    voice.add_argument(
        "--turn",
        action="append",
        default=[],
        metavar="URL",
        help="a TURN server for voice across strict NATs, e.g. turn:turn.example.org:3478 "
        "(repeatable; with --turn-user and --turn-password-file)",
    )
    voice.add_argument("--turn-user", help="the TURN user name")
    voice.add_argument(
        "--turn-password-file",
        type=Path,
        help="a file holding the TURN password (kept off the command line)",
    )
    parser.add_argument(
        "--log-level", default="info", choices=["debug", "info", "warning", "error"]
    )
    parser.add_argument("--print-port", action="store_true", help=argparse.SUPPRESS)


class ConfigError(Exception):
    """A setting of ``pair serve`` that cannot work; the message says how to fix it."""


def tls_context(certfile: Path | None, keyfile: Path | None) -> ssl.SSLContext | None:
    if certfile is None and keyfile is None:
        return None
    if certfile is None:
        raise ConfigError("--keyfile needs --certfile")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(certfile, keyfile)
    except (OSError, ssl.SSLError) as error:
        raise ConfigError(f"cannot load the TLS certificate {certfile}: {error}") from None
    return context


def ice_servers(args: argparse.Namespace) -> tuple[p.IceServer, ...]:
    """The STUN and TURN servers of ``--stun``/``--turn``, as members' apps will use them."""
    for url in args.stun:
        if not url.startswith(("stun:", "stuns:")):
            raise ConfigError(f"--stun {url!r}: a STUN URL starts with stun: or stuns:")
    for url in args.turn:
        if not url.startswith(("turn:", "turns:")):
            raise ConfigError(f"--turn {url!r}: a TURN URL starts with turn: or turns:")
    servers = [p.IceServer(urls=list(args.stun))] if args.stun else []
    if args.turn:
        if args.turn_user is None or args.turn_password_file is None:
            raise ConfigError("--turn needs --turn-user and --turn-password-file")
        try:
            password = args.turn_password_file.read_text(encoding="utf-8").strip()
        except OSError as error:
            raise ConfigError(f"cannot read --turn-password-file: {error}") from None
        servers.append(
            p.IceServer(urls=list(args.turn), username=args.turn_user, credential=password)
        )
    return tuple(servers)


def config_from(args: argparse.Namespace) -> RelayConfig:
    defaults = RateLimit()
    if args.open and args.require_keys:
        raise ConfigError("--open and --require-keys contradict each other: choose one")
    tokens = AdminTokens()
    if args.tokens_file is not None:
        try:
            tokens = AdminTokens.from_file(args.tokens_file)
        except TokensFileError as error:
            raise ConfigError(str(error)) from None
    return RelayConfig(
        host=args.host,
        port=args.port,
        max_frame=args.max_frame,
        rate=RateLimit(
            rate=args.rate, burst=max(defaults.burst, args.rate * 3), flood=defaults.flood
        ),
        room_limits=RoomLimits(
            max_document_length=args.max_document,
            history=args.history,
            ice_servers=ice_servers(args),
        ),
        require_keys=args.require_keys or not (args.open or is_loopback(args.host)),
        admin_tokens=tokens,
        gate=GateLimits(max_per_address=args.max_connections_per_address),
        origins=tuple(args.allow_origin),
        ssl=tls_context(args.certfile, args.keyfile),
        reuse_port=args.reuse_port,
    )


async def run(args: argparse.Namespace) -> int:
    configure(args.log_level)
    if args.workers != 1:
        from server.workers import supervise

        return await supervise(args)
    if args.redis:
        return await _serve(args, None)
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


async def _open_store(
    args: argparse.Namespace, data_dir: Path | None
) -> tuple[Store, Cluster | None]:
    """The store (and, on Redis, this process's place in the cluster)."""
    if data_dir is None:
        store = await RedisStore.open(args.redis, prefix=args.redis_prefix)
        try:
            return store, await open_cluster(args.redis, prefix=args.redis_prefix)
        except (OSError, RedisError) as error:
            await store.close()
            raise StoreError(
                f"cannot subscribe on Redis at {safe_url(args.redis)}: {error}"
            ) from error
    sqlite = await SQLiteStore.open(data_dir, synchronous="FULL" if args.fsync else "NORMAL")
    return sqlite, None


async def _serve(args: argparse.Namespace, data_dir: Path | None) -> int:
    log = get_logger()
    try:
        store, cluster = await _open_store(args, data_dir)
    except StoreError as error:
        where = "Redis is running there" if data_dir is None else f"{data_dir} is writable"
        print(f"pair serve: {error}. Check that {where}.", file=sys.stderr)
        return 1
    try:
        config = config_from(args)
    except ConfigError as error:
        await store.close()
        print(f"pair serve: {error}", file=sys.stderr)
        return 2
    relay = Relay(store, config, cluster)
    _describe_access(config)
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
    tune_garbage_collector()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    where = str(data_dir) if data_dir else safe_url(args.redis)
    log.info("relay ready", extra={"store": where, "port": relay.port})
    await stop.wait()
    log.info("shutting down")
    await relay.shutdown()
    await store.close()
    return 0


def tune_garbage_collector() -> None:
    """Keep full collections rare and short: they stall every room at once.

    What lives from startup is frozen out of collections; room history is kept
    in a form the collector does not track (``server/document.py``); and young
    collections run less often, since most garbage here is freed by reference
    counting anyway. Measured: the p99 of keystroke latency under load was set by
    these pauses (docs/performance.md).
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def _describe_access(config: RelayConfig) -> None:
    """Say once, at start, who can get in: the operator must never have to guess."""
    log = get_logger()
    if not config.require_keys and not is_loopback(config.host):
        log.warning("OPEN relay: anyone who reaches it may join any room without a key")
    if config.require_keys and not config.admin_tokens.required:
        log.warning("anyone who reaches the relay may create rooms (with keys); see --tokens-file")
    if config.ssl is None and not is_loopback(config.host):
        log.warning("no TLS: keys and edits cross the network in clear; see --certfile")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="pair serve", description="Run a pairtui relay.")
    add_arguments(parser)
    return run_loop(run(parser.parse_args(argv)))
