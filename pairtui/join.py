"""``pair join``: find or start the relay, then run the terminal app."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from pairtui.config import ConfigError, load_join_settings
from pairtui.dirs import data_dir
from pairtui.embedded import EmbeddedRelayError, ensure_local_relay
from pairtui.journal import Journal

ROOM_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def run_join(args: argparse.Namespace) -> int:
    if not ROOM_PATTERN.match(args.room):
        print(
            f"pair join: {args.room!r} is not a room name: use letters, digits, '.', '_' "
            "and '-' (up to 64)",
            file=sys.stderr,
        )
        return 2
    try:
        settings = load_join_settings()
    except ConfigError as error:
        print(f"pair join: {error}", file=sys.stderr)
        return 2
    server = args.server or settings.server
    embedded = server is None
    if server is None:
        try:
            server = ensure_local_relay()
        except EmbeddedRelayError as error:
            print(f"pair join: {error}", file=sys.stderr)
            return 1
    name = (args.name or settings.name)[:64]
    hint = join_hint(args.room, server, embedded)

    from pairtui.client import ClientSession
    from pairtui.ui.app import PairApp

    session = ClientSession(server, args.room, name, journal=Journal(data_dir(), server, args.room))
    folder = None
    if args.dir:
        from pairtui.folder_sync import FolderSync

        folder = FolderSync(session, Path(args.dir).expanduser(), state_dir=data_dir())
    app = PairApp(session, initial_path=args.file, join_hint=hint, folder=folder)
    app.run()
    if session.pending:
        print(
            f"pair join: edits not yet stored by the relay are kept locally and will be "
            f"sent the next time you run 'pair join {args.room}'.",
            file=sys.stderr,
        )
    return 0


def join_hint(room: str, server: str, embedded: bool) -> str:
    """What to tell a person about how their partner joins them."""
    if embedded:
        return (
            f"Partner on this machine: pair join {room}. From another machine: run "
            f"'pair serve --host 0.0.0.0' here, then they run "
            f"'pair join {room} --server ws://<this machine>:8765/'."
        )
    return f"Your partner runs: pair join {room} --server {server}"
