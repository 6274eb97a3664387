"""The ``pair`` command: one entry point for every pairtui job."""

from __future__ import annotations

import argparse
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
    join.add_argument(
        "room", help="the room to join, e.g. 'demo', or an invite link from 'pair invite'"
    )
    join.add_argument("--server", help="relay URL, e.g. ws://host:8765/ (default: local relay)")
    join.add_argument("--cafile", help="trust this CA (PEM) for a wss:// relay's certificate")
    join.add_argument("--name", help="your name as others see it (default: your login name)")
    join.add_argument("--file", help="open (or create) this file of the room first")
    join.add_argument(
        "--dir",
        metavar="PATH",
        help="also mirror the room's files into this folder and back, to use your own "
        "editor or run the code (honours .gitignore and .pairignore)",
    )
    voice = join.add_argument_group("voice (F6 in the app; needs pairtui[voice])")
    voice.add_argument("--mic", metavar="NAME", help="microphone: any part of its name")
    voice.add_argument("--speaker", metavar="NAME", help="speaker: any part of its name")
    voice.add_argument(
        "--push-to-talk", action="store_true", help="muted in the call except while F7 is held"
    )
    commands.add_parser(
        "devices",
        help="list the microphones and speakers voice can use",
        description="List the audio devices PortAudio sees, for --mic, --speaker and "
        "config.toml's [voice] table.",
    )
    invite = commands.add_parser(
        "invite",
        help="print an invite link to a room (gives the room keys on first use)",
        description="Print a link that 'pair join' accepts. The first invite for a room "
        "creates it on the relay with a write key and a read-only key, kept in your keyring.",
    )
    invite.add_argument("room", help="the room, e.g. 'demo'")
    invite.add_argument("--read-only", action="store_true", help="a link that can only watch")
    invite.add_argument("--server", help="relay URL (default: config.toml, then the local relay)")
    invite.add_argument("--cafile", help="trust this CA (PEM) for a wss:// relay's certificate")
    for name, text in (
        ("login", "keep a relay's admin token (asked for, hidden) in your keyring"),
        ("logout", "forget the admin token and room keys kept for a relay"),
    ):
        command = commands.add_parser(name, help=text, description=text)
        command.add_argument("--server", help="relay URL (default: config.toml)")
    from pairtui import loadgen

    loadgen.add_arguments(
        commands.add_parser(
            "bench",
            help="load-test a relay with simulated campers typing",
            description="Simulated campers type into shared files; prints keystroke-to-peer "
            "latency and checks that nothing was lost or applied twice. Bounded in time.",
        )
    )
    admin.add_new_token_arguments(
        commands.add_parser(
            "new-token", help="create an admin token for 'pair serve --tokens-file'"
        )
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
        from pairtui.loop import run as run_loop
        from server.serve import run

        return run_loop(run(args))
    if args.command == "backup":
        from server.admin import run_backup

        return run_backup(args)
    if args.command == "restore":
        from server.admin import run_restore

        return run_restore(args)
    if args.command in ("invite", "login", "logout"):
        from pairtui import access

        commands = {"invite": access.run_invite, "login": access.run_login}
        return commands.get(args.command, access.run_logout)(args)
    if args.command == "bench":
        from pairtui.loadgen import run_bench

        return run_bench(args)
    if args.command == "new-token":
        from server.admin import run_new_token

        return run_new_token(args)
    if args.command == "join":
        from pairtui.join import run_join

        return run_join(args)
    if args.command == "devices":
        from pairtui.voice.listing import run_devices

        return run_devices()
    parser.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
