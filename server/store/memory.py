"""An in-memory store: the reference the contract suite checks the real stores against.

It keeps nothing across restarts, so the relay never uses it for real rooms;
it serves tests and benchmarks that want the room logic without a disk.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field

from pairtui.core.protocol import ChatMessage
from server.document import HistoryEntry
from server.store.base import Store
from server.store.records import (
    ChatAppended,
    FileCreated,
    FileDeleted,
    FileRecord,
    FileRenamed,
    KeyHashes,
    KeysSet,
    OpAppended,
    RevisionConflict,
    RoomCreated,
    RoomRecord,
    SnapshotSaved,
    StoreError,
    Write,
)


@dataclass
class _File:
    path: str
    revision: int
    snapshot_revision: int
    snapshot_text: str
    ops: dict[int, HistoryEntry] = field(default_factory=dict)
    applied: dict[str, tuple[int, int]] = field(default_factory=dict)


@dataclass
class _Room:
    created_at: float
    files: dict[str, _File] = field(default_factory=dict)
    chat: dict[int, ChatMessage] = field(default_factory=dict)
    keys: KeyHashes | None = None


class MemoryStore(Store):
    """Rooms in a dict; commits are atomic by working on a copy."""

    def __init__(self) -> None:
        self._rooms: dict[str, _Room] = {}
        self.fail_commits: StoreError | None = None  # tests set this to simulate a full disk

    async def load_room(self, name: str, *, history: int) -> RoomRecord | None:
        room = self._rooms.get(name)
        if room is None:
            return None
        files = []
        for file_id, stored in room.files.items():
            text = stored.snapshot_text
            for revision in range(stored.snapshot_revision + 1, stored.revision + 1):
                text = stored.ops[revision].op.apply(text)
            kept = [
                stored.ops[r]
                for r in range(max(1, stored.revision - history + 1), stored.revision + 1)
                if r in stored.ops
            ]
            if kept and kept[0].revision != stored.revision - len(kept) + 1:
                kept = []
            files.append(
                FileRecord(file_id, stored.path, text, stored.revision, kept, dict(stored.applied))
            )
        chat = [room.chat[i] for i in sorted(room.chat)]
        return RoomRecord(
            name=name, created_at=room.created_at, files=files, chat=chat, keys=room.keys
        )

    async def commit(self, writes: Sequence[Write]) -> None:
        if self.fail_commits is not None:
            raise self.fail_commits
        rooms = copy.deepcopy(self._rooms)
        for write in writes:
            _apply(rooms, write)
        self._rooms = rooms

    async def room_names(self) -> list[str]:
        return sorted(self._rooms)

    async def close(self) -> None:
        return None


def _apply(rooms: dict[str, _Room], write: Write) -> None:
    if isinstance(write, RoomCreated):
        rooms.setdefault(write.room, _Room(write.created_at))
        return
    room = rooms.get(write.room)
    if room is None:
        raise StoreError(f"room {write.room!r} does not exist")
    if isinstance(write, KeysSet):
        room.keys = write.keys
    elif isinstance(write, FileCreated):
        room.files[write.file] = _File(write.path, 0, 0, write.text)
    elif isinstance(write, ChatAppended):
        room.chat[write.message.id] = write.message
        for old in [i for i in room.chat if i <= write.message.id - write.keep]:
            del room.chat[old]
    elif write.file not in room.files:
        raise StoreError(f"file {write.file!r} does not exist in {write.room!r}")
    elif isinstance(write, OpAppended):
        stored = room.files[write.file]
        entry = write.entry
        if entry.revision != stored.revision + 1:
            raise RevisionConflict(f"{write.room}/{write.file}: revision {stored.revision} moved")
        stored.revision = entry.revision
        stored.ops[entry.revision] = entry
        stored.applied[entry.client_id] = (entry.seq, entry.revision)
    elif isinstance(write, SnapshotSaved):
        stored = room.files[write.file]
        if write.revision > stored.snapshot_revision:
            stored.snapshot_revision, stored.snapshot_text = write.revision, write.text
        for old in [r for r in stored.ops if r <= write.revision - write.keep_ops]:
            del stored.ops[old]
    elif isinstance(write, FileRenamed):
        room.files[write.file].path = write.path
    elif isinstance(write, FileDeleted):
        del room.files[write.file]
