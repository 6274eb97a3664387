"""``pair join``: find the relay and the room's key, then run the terminal app.

When the relay says the room needs a key and none was given, ``pair join``
asks for the invite link at a hidden prompt (so it stays out of shell
history), keeps it in the keyring and joins again.
"""

from __future__ import annotations

import argparse
import getpass
import ssl
import sys
from pathlib import Path

from pairtui.access import AccessError, Target, resolve_target, room_key, ssl_context_for
from pairtui.client import ClientSession, KeysReceived, SessionEvent, StatusChanged
from pairtui.config import VoiceSettings
from pairtui.core.keys import InviteError, is_invite_link, looks_like_key, parse_invite
from pairtui.core.protocol import ErrorCode
from pairtui.credentials import Credentials
from pairtui.dirs import data_dir
from pairtui.journal import Journal

EXIT_NEEDS_KEY = 3


def run_join(args: argparse.Namespace) -> int:
    credentials = Credentials(tell=lambda text: print(f"pairtui: {text}", file=sys.stderr))
    try:
        target = resolve_target(args.room, args.server)
        context = ssl_context_for(target.server, args.cafile)
    except AccessError as error:
        print(f"pair join: {error}", file=sys.stderr)
        return 2
    stored = room_key(credentials, target)
    if target.key is not None:
        credentials.set_room_key(target.server, target.room, target.key)
    key = stored.key if stored else None
    name = (args.name or _default_name())[:64]
    while True:
        session = _session(target, name, key, context, credentials)
        code = _run_app(args, target, session)
        if code != EXIT_NEEDS_KEY or not sys.stdin.isatty():
            break
        print(f"pair join: {session.fatal_reason}", file=sys.stderr)
        key = _ask_for_key(target)
        if key is None:
            return 1
        credentials.set_room_key(target.server, target.room, key)
    if code == EXIT_NEEDS_KEY:
        print(f"pair join: {session.fatal_reason}", file=sys.stderr)
        return 1
    if session.pending:
        print(
            f"pair join: edits not yet stored by the relay are kept locally and will be "
            f"sent the next time you run 'pair join {target.room}'.",
            file=sys.stderr,
        )
    return 0


def _session(
    target: Target,
    name: str,
    key: str | None,
    context: ssl.SSLContext | None,
    credentials: Credentials,
) -> ClientSession:
    session = ClientSession(
        target.server,
        target.room,
        name,
        key=key,
        journal=Journal(data_dir(), target.server, target.room),
        ssl_context=context,
    )

    def remember(event: SessionEvent) -> None:
        """Keep the working key, and the role it gives, for the next 'pair join ROOM'."""
        if session.key is None:
            return
        if isinstance(event, StatusChanged) and event.status == "connected":
            credentials.set_room_key(target.server, target.room, session.key, session.role)
        elif isinstance(event, KeysReceived):
            credentials.set_room_key(
                target.server, target.room, event.key, "write" if event.writes else "read"
            )

    session.subscribe(remember)
    return session


def _run_app(args: argparse.Namespace, target: Target, session: ClientSession) -> int:
    from pairtui.ui.app import PairApp

    folder = None
    if args.dir:
        from pairtui.folder_sync import FolderSync

        folder = FolderSync(session, Path(args.dir).expanduser(), state_dir=data_dir())
    app = PairApp(
        session, initial_path=args.file, target=target, folder=folder, voice=_voice_settings(args)
    )
    app.run()
    if session.fatal_code == ErrorCode.BAD_KEY:
        return EXIT_NEEDS_KEY
    return 0


def _ask_for_key(target: Target) -> str | None:
    """Ask for the invite link (or the bare key) without echoing it."""
    answer = getpass.getpass(
        f"Paste the invite link for {target.room!r} (input hidden; Enter to give up): "
    ).strip()
    if not answer:
        return None
    if is_invite_link(answer):
        try:
            invite = parse_invite(answer)
        except InviteError as error:
            print(f"pair join: {error}", file=sys.stderr)
            return None
        if (invite.server.rstrip("/"), invite.room) != (target.server.rstrip("/"), target.room):
            print(
                f"pair join: that link is for room {invite.room!r} at {invite.server}; "
                f"run: pair join 'LINK'",
                file=sys.stderr,
            )
            return None
        return invite.key
    if looks_like_key(answer):
        return answer
    print("pair join: that is neither an invite link nor a key", file=sys.stderr)
    return None


def _voice_settings(args: argparse.Namespace) -> VoiceSettings:
    """config.toml's ``[voice]``, with the command line's choices over it."""
    from pairtui.config import load_voice_settings

    settings = load_voice_settings()
    return VoiceSettings(
        microphone=args.mic or settings.microphone,
        speaker=args.speaker or settings.speaker,
        push_to_talk=args.push_to_talk or settings.push_to_talk,
        ice_servers=settings.ice_servers,
    )


def _default_name() -> str:
    from pairtui.config import load_join_settings

    return load_join_settings().name
