"""Getting into rooms: which relay, which key, and the ``invite``, ``login``, ``logout`` commands.

``pair invite ROOM`` prints a link that ``pair join`` takes as its argument.
The first invite for a room creates it on the relay with keys (``create_room``;
the relay's admin token, from ``pair login``, where the relay asks one), and
the keys go to this machine's keyring; later invites print links from the
stored key. The key to a room is found in this order: the link given, then
the keyring.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import re
import ssl
import sys
from dataclasses import dataclass

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI

from pairtui.config import ConfigError, load_join_settings
from pairtui.core import protocol as p
from pairtui.core.keys import Invite, InviteError, is_invite_link, parse_invite, read_key_for
from pairtui.credentials import Credentials, StoredKey
from pairtui.embedded import EmbeddedRelayError, ensure_local_relay

ROOM_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class AccessError(Exception):
    """Getting into a room failed; the message says what to do."""


@dataclass(frozen=True)
class Target:
    """The relay and room a command works on, and how it was found."""

    server: str
    room: str
    key: str | None
    embedded: bool


def resolve_target(room_or_link: str, server: str | None, *, start_local: bool = True) -> Target:
    """The relay, room and key for a ``pair join``/``pair invite`` argument.

    A link names all three; otherwise the relay is ``--server``, then
    config.toml, then the local relay (started if ``start_local``).
    """
    if is_invite_link(room_or_link):
        try:
            invite = parse_invite(room_or_link)
        except InviteError as error:
            raise AccessError(str(error)) from None
        if server is not None and server.rstrip("/") != invite.server.rstrip("/"):
            raise AccessError(f"the link is for {invite.server}, not {server}: leave out --server")
        return Target(invite.server, invite.room, invite.key, embedded=False)
    if not ROOM_PATTERN.match(room_or_link):
        raise AccessError(
            f"{room_or_link!r} is neither a room name (letters, digits, '.', '_', '-', up to "
            "64) nor an invite link (pairtui+ws://...)"
        )
    try:
        settings = load_join_settings()
    except ConfigError as error:
        raise AccessError(str(error)) from None
    chosen = server or settings.server
    if chosen is not None:
        return Target(chosen, room_or_link, None, embedded=False)
    if not start_local:
        raise AccessError("no relay given: pass --server URL")
    try:
        local = ensure_local_relay()
    except EmbeddedRelayError as error:
        raise AccessError(str(error)) from None
    return Target(local, room_or_link, None, embedded=True)


def ssl_context_for(server: str, cafile: str | None) -> ssl.SSLContext | None:
    """Certificates are verified for every ``wss://`` relay; ``cafile`` adds a private CA."""
    if not server.startswith("wss:"):
        return None
    try:
        return ssl.create_default_context(cafile=cafile)
    except (OSError, ssl.SSLError) as error:
        raise AccessError(f"cannot read the CA file {cafile}: {error}") from None


def invite_text(target: Target, key: str | None, role: p.Role) -> str:
    """What to tell a person about how others join this room."""
    if key is None:
        if target.embedded:
            return (
                f"Partner on this machine: pair join {target.room}. From another machine: "
                "run 'pair serve --host 0.0.0.0 --port 8766 --data-dir ~/pairtui-relay' here "
                f"(it asks for room keys), then 'pair invite {target.room} --server "
                "ws://<this machine>:8766/' and send them the link."
            )
        return f"Your partner runs: pair join {target.room} --server {target.server}"
    lines = []
    if role == "write":
        lines.append(
            f"To edit with you: pair join '{Invite(target.server, target.room, key).link()}'"
        )
        key = read_key_for(key)
    lines.append(
        f"To watch (read-only): pair join '{Invite(target.server, target.room, key).link()}'"
    )
    return "\n".join(lines)


async def create_room(
    server: str, room: str, token: str | None, ssl_context: ssl.SSLContext | None
) -> str:
    """Create ``room`` with keys on the relay (or give an open room keys); its write key."""
    request = p.CreateRoom(protocol=p.PROTOCOL_VERSION, room=room, token=token)
    try:
        async with connect(
            server, ssl=ssl_context, open_timeout=10, compression=None, max_size=1 << 20
        ) as connection:
            await connection.send(p.encode(request), text=True)
            async with asyncio.timeout(30):
                reply = p.decode_server(await connection.recv())
    except InvalidStatus as error:
        raise AccessError(f"{server} refused the connection: {error}") from None
    except (OSError, InvalidHandshake, InvalidURI, ConnectionClosed, TimeoutError) as error:
        raise AccessError(
            f"cannot reach the relay at {server} ({error}); check the address"
        ) from None
    if isinstance(reply, p.RoomKeys) and reply.write_key is not None:
        return reply.write_key
    if isinstance(reply, p.Error):
        if reply.code == p.ErrorCode.BAD_TOKEN:
            raise AccessError(
                f"this relay needs an admin token to create rooms: run "
                f"'pair login --server {server}' with one from its operator"
            )
        raise AccessError(reply.message)
    raise AccessError(f"unexpected answer from the relay: {type(reply).__name__}")


def room_key(credentials: Credentials, target: Target) -> StoredKey | None:
    """The key to use: the link's, else the keyring's."""
    if target.key is not None:
        return StoredKey(target.key, "unknown")
    return credentials.room_key(target.server, target.room)


# -- the commands ------------------------------------------------------------------------


def _tell(text: str) -> None:
    print(f"pairtui: {text}", file=sys.stderr)


def run_invite(args: argparse.Namespace) -> int:
    credentials = Credentials(tell=_tell)
    try:
        target = resolve_target(args.room, args.server)
        stored = room_key(credentials, target)
        if stored is None:
            context = ssl_context_for(target.server, args.cafile)
            token = credentials.token(target.server)
            write_key = asyncio.run(create_room(target.server, target.room, token, context))
            credentials.set_room_key(target.server, target.room, write_key, "write")
            stored = StoredKey(write_key, "write")
            print(f"Room {target.room!r} now has keys on {target.server}.", file=sys.stderr)
    except AccessError as error:
        print(f"pair invite: {error}", file=sys.stderr)
        return 1
    if stored.role != "write" and not args.read_only:
        print(
            "pair invite: the key kept here for this room is not a write key "
            f"({stored.role}); pass --read-only, or ask a writer for a write invite",
            file=sys.stderr,
        )
        return 1
    key = read_key_for(stored.key) if args.read_only and stored.role == "write" else stored.key
    print(Invite(target.server, target.room, key).link())
    what = "watch (read-only)" if args.read_only else "edit with you"
    print(
        f"Send this link to whoever should {what}; they run: pair join 'LINK'. "
        "Anyone with it gets in: share it privately.",
        file=sys.stderr,
    )
    return 0


def run_login(args: argparse.Namespace) -> int:
    server = _server_or_config(args.server, "login")
    if server is None:
        return 2
    token = getpass.getpass(f"Admin token for {server} (input hidden): ").strip()
    if not token:
        print("pair login: no token given; nothing stored", file=sys.stderr)
        return 1
    Credentials(tell=_tell).set_token(server, token)
    print(f"Stored the admin token for {server}; 'pair invite' uses it to create rooms.")
    return 0


def run_logout(args: argparse.Namespace) -> int:
    server = _server_or_config(args.server, "logout")
    if server is None:
        return 2
    removed = Credentials(tell=_tell).forget_server(server)
    print(f"Removed {removed} secret(s) kept for {server}.")
    return 0


def _server_or_config(server: str | None, command: str) -> str | None:
    try:
        chosen = server or load_join_settings().server
    except ConfigError as error:
        print(f"pair {command}: {error}", file=sys.stderr)
        return None
    if chosen is None:
        print(f"pair {command}: which relay? pass --server URL", file=sys.stderr)
    return chosen
