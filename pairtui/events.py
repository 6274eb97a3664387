"""What a ``ClientSession`` tells its subscribers, in order, as things happen.

The terminal app, folder sync, the load generator and any bot subscribe to
these; they are plain frozen dataclasses so that a subscriber can match on
them and keep them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, TypeAlias

from pairtui.core import protocol as p
from pairtui.core.ot import TextOperation
from pairtui.core.protocol import ErrorCode

ConnectionStatus: TypeAlias = Literal["connecting", "connected", "reconnecting", "closed"]


@dataclass(frozen=True)
class StatusChanged:
    status: ConnectionStatus
    retry_at: float | None = None  # time.monotonic() of the next attempt, when reconnecting
    reason: str | None = None


@dataclass(frozen=True)
class FileOpened:
    file: str
    text: str


@dataclass(frozen=True)
class FileChanged:
    """A remote edit was applied to ``file``; ``op`` fits the text as it was just before."""

    file: str
    op: TextOperation
    member: str | None
    source: str | None = None  # the local component that made it (None: a partner)
    revision: int | None = None  # the relay's revision it brings the file to (remote edits)


@dataclass(frozen=True)
class EditStored:
    """The relay stored our edit ``seq`` of ``file``; it became ``revision``."""

    file: str
    seq: int
    revision: int


@dataclass(frozen=True)
class FilesListed:
    files: list[p.FileInfo]


@dataclass(frozen=True)
class MembersChanged:
    members: dict[str, p.Member]


@dataclass(frozen=True)
class ChatReceived:
    message: p.ChatMessage


@dataclass(frozen=True)
class SummonReceived:
    member: str
    file: str
    cursor: int


@dataclass(frozen=True)
class ErrorReceived:
    code: ErrorCode
    message: str
    ref: str | None = None  # the type of the message that was refused


@dataclass(frozen=True)
class VoiceWelcomed:
    """We are in the room's call: offer to each of ``peers``, using ``ice_servers``."""

    peers: list[str]
    ice_servers: list[p.IceServer]


@dataclass(frozen=True)
class SignalReceived:
    """WebRTC signalling from a peer in the call."""

    signal: p.SignalRelayed


@dataclass(frozen=True)
class KeysReceived:
    """The room has new keys (rotated, or given to an open room); ``key`` is ours now."""

    key: str
    writes: bool


SessionEvent: TypeAlias = (
    StatusChanged
    | FileOpened
    | FileChanged
    | FilesListed
    | MembersChanged
    | ChatReceived
    | SummonReceived
    | ErrorReceived
    | KeysReceived
    | EditStored
    | VoiceWelcomed
    | SignalReceived
)
