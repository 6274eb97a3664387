"""Room keys and invite links: pure functions shared by the relay and every client.

A room has a write key (192 random bits from ``secrets``) and a read-only
key derived from it with HMAC-SHA256, as capability systems such as
Tahoe-LAFS derive a read cap from a write cap: whoever holds the write key
can always hand out a read-only invite, and nobody can climb from the read
key to the write key. The relay stores only a SHA-256 of each key: the keys
are long random strings, so a fast hash is enough (a slow password hash
protects weak secrets; these are not weak).

An invite link names the relay, the room and, after ``#``, the key::

    pairtui+ws://127.0.0.1:8765/demo#Kc0...
    pairtui+wss://pair.example.org/camp/demo#Kc0...   (relay at wss://pair.example.org/camp/)

The key sits in the fragment so that anything that handles the link as a
URL (a proxy, a browser, a log) leaves it out of requests.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

KEY_BYTES = 24  # 192 bits
LINK_SCHEMES = {"pairtui+ws": "ws", "pairtui+wss": "wss"}
_ROOM = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_KEY = re.compile(r"^[A-Za-z0-9_-]{16,256}$")
_READ_LABEL = b"pairtui read-only key v1"


def new_secret() -> str:
    """A fresh write key or admin token: 192 random bits as URL-safe text."""
    return secrets.token_urlsafe(KEY_BYTES)


def read_key_for(write_key: str) -> str:
    """The read-only key that belongs to ``write_key`` (one-way)."""
    digest = hmac.new(write_key.encode("utf-8"), _READ_LABEL, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:KEY_BYTES]).decode("ascii").rstrip("=")


def hash_secret(secret: str) -> str:
    """What a relay stores of a key or token: its SHA-256, in hex."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def looks_like_key(text: str) -> bool:
    """Whether ``text`` could be a key (URL-safe characters, 16 to 256 of them)."""
    return bool(_KEY.match(text))


class InviteError(ValueError):
    """An invite link that cannot be read; the message says what is wrong with it."""


@dataclass(frozen=True)
class Invite:
    """Where to join: the relay's URL, the room, and the key (``None``: an open room)."""

    server: str
    room: str
    key: str | None = None

    def link(self) -> str:
        """The link form, which ``parse_invite`` reads back."""
        scheme, rest = self.server.split("://", 1)
        base = rest if rest.endswith("/") else rest + "/"
        fragment = f"#{self.key}" if self.key else ""
        return f"pairtui+{scheme}://{base}{self.room}{fragment}"


def is_invite_link(text: str) -> bool:
    return text.split("://", 1)[0].lower() in LINK_SCHEMES


def parse_invite(text: str) -> Invite:
    """Read an invite link; raise ``InviteError`` saying what is wrong."""
    text = text.strip()
    parts = urlsplit(text)
    scheme = LINK_SCHEMES.get(parts.scheme.lower())
    if scheme is None:
        raise InviteError("an invite link starts with pairtui+ws:// or pairtui+wss://")
    if not parts.netloc:
        raise InviteError("the invite link names no relay (pairtui+ws://HOST:PORT/ROOM#KEY)")
    base, _, room = parts.path.rpartition("/")
    if any(segment in (".", "..") for segment in base.split("/")):
        raise InviteError("the invite link's path holds '.' or '..'; copy the whole link again")
    if not _ROOM.match(room):
        raise InviteError(
            "the invite link names no room: it ends in /ROOM, with letters, digits, '.', '_' or '-'"
        )
    if parts.query:
        raise InviteError("an invite link has no '?' part; was it copied whole?")
    key = parts.fragment or None
    if key is not None and not looks_like_key(key):
        raise InviteError("the key after '#' is damaged; copy the whole link again")
    return Invite(server=f"{scheme}://{parts.netloc}{base}/", room=room, key=key)
