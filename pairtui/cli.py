"""The ``pair`` command: one entry point for every pairtui job."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from pairtui import __version__


def build_parser() -> argparse.ArgumentParser:
    from server import admin, serve

    parser = argparse.ArgumentParser(
        prog="pair",
        description="Pair programming in the terminal: a shared editor, chat and voice.",
    )
    parser.add_argument("--version", action="version", version=f"pairtui {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    join = commands.add_parser(
        "join",
        help="edit a room's files together with your partner",
        description="Join a room. With no --server (and none in config.toml) a relay on "
        "this machine is used, started in the background if none is running.",
    )
    join.add_argument("room", help="the room to join, e.g. 'demo'")
    join.add_argument("--server", help="relay URL, e.g. ws://host:8765/ (default: local relay)")
    join.add_argument("--name", help="your name as others see it (default: your login name)")
    join.add_argument("--file", help="open (or create) this file of the room first")
    join.add_argument(
        "--dir",
        metavar="PATH",
        help="also mirror the room's files into this folder and back, to use your own "
        "editor or run the code (honours .gitignore and .pairignore)",
    )
    serve.add_arguments(
        commands.add_parser(
            "serve", help="run a relay", description="Run a pairtui relay until SIGTERM or Ctrl-C."
        )
    )
    admin.add_backup_arguments(
        commands.add_parser(
            "backup", help="copy every room of a relay to a file (safe while it runs)"
        )
    )
    admin.add_restore_arguments(
        commands.add_parser(
            "restore", help="put rooms back from a backup file (stop the relay first)"
        )
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``pair``; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "serve":
        from server.serve import run

        return asyncio.run(run(args))
    if args.command == "backup":
        from server.admin import run_backup

        return run_backup(args)
    if args.command == "restore":
        from server.admin import run_restore

        return run_restore(args)
    if args.command == "join":
        from pairtui.join import run_join

        return run_join(args)
    parser.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
