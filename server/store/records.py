"""What the relay writes and reads back: plain records, independent of any database.

The room logic returns these as the writes an event causes; a store commits
a batch of them atomically. Loading a room gives a ``RoomRecord``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeAlias

from pairtui.core.protocol import ChatMessage
from server.document import HistoryEntry


@dataclass(frozen=True)
class RoomCreated:
    room: str
    created_at: float


@dataclass(frozen=True)
class FileCreated:
    room: str
    file: str
    path: str
    text: str
    created_at: float


@dataclass(frozen=True)
class FileRenamed:
    room: str
    file: str
    path: str


@dataclass(frozen=True)
class FileDeleted:
    room: str
    file: str


@dataclass(frozen=True)
class OpAppended:
    """An applied op; the store refuses it unless it directly follows the stored revision."""

    room: str
    file: str
    entry: HistoryEntry
    time: float


@dataclass(frozen=True)
class SnapshotSaved:
    """The file's whole text at ``revision``; older ops beyond ``keep_ops`` may be dropped."""

    room: str
    file: str
    revision: int
    text: str
    keep_ops: int


@dataclass(frozen=True)
class KeyHashes:
    """What a relay keeps of a room's keys: SHA-256 of each, never the keys."""

    write: str
    read: str


@dataclass(frozen=True)
class KeysSet:
    """The room's keys were created or rotated."""

    room: str
    keys: KeyHashes


@dataclass(frozen=True)
class ChatAppended:
    room: str
    message: ChatMessage
    keep: int


Write: TypeAlias = (
    RoomCreated
    | FileCreated
    | FileRenamed
    | FileDeleted
    | OpAppended
    | SnapshotSaved
    | ChatAppended
    | KeysSet
)


@dataclass
class FileRecord:
    """A file as loaded: current text and revision, recent history, dedupe table."""

    file: str
    path: str
    text: str
    revision: int
    history: list[HistoryEntry] = field(default_factory=list)
    applied_seqs: dict[str, tuple[int, int]] = field(default_factory=dict)


@dataclass
class RoomRecord:
    """A room as loaded from a store."""

    name: str
    created_at: float
    files: list[FileRecord]
    chat: list[ChatMessage]
    keys: KeyHashes | None = None  # None: an open room, joined without a key


class StoreError(Exception):
    """The store could not do what was asked (disk full, database unwritable, conflict)."""


class RevisionConflict(StoreError):
    """An op did not follow the stored revision: another writer got there first."""
