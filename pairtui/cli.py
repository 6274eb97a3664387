"""The ``pair`` command: one entry point for every pairtui job."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from pairtui import __version__

NOT_YET = {
    "join": "the terminal editor ('pair join <room>') is not built yet",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pair",
        description="Pair programming in the terminal: a shared editor, chat and voice.",
    )
    parser.add_argument("--version", action="version", version=f"pairtui {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    join = commands.add_parser("join", help="edit a room's files together with your partner")
    join.add_argument("room", help="the room to join, e.g. 'demo'")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``pair``; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    print(f"pair: {NOT_YET[args.command]}; see README.md for what works today.", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
