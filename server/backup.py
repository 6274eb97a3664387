"""``pair backup`` and ``pair restore``: a consistent, checkable copy of every room.

The file is gzip-compressed JSON lines: a header, one line per room (files
with their text, revision, kept history and duplicate table; chat), and a
trailer with the room count and a SHA-256 of the room lines. It does not
depend on the store, so a backup of a SQLite relay restores into Redis too.

A backup reads every room inside one read transaction while the relay keeps
running, and is written to a temporary file that is renamed into place only
when complete: a backup that dies at 94% leaves no file that looks whole.
Restore reads and checks the whole file before writing anything, then
replaces the rooms in one transaction: a truncated or corrupt file changes
nothing, and restoring the same file twice gives the same state.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import msgspec

from pairtui.core.ot import OTError, TextOperation
from pairtui.core.protocol import ChatMessage
from server.document import HistoryEntry
from server.store.records import FileRecord, RoomRecord
from server.store.sqlite import SQLiteStore

FORMAT = "pairtui-backup"
VERSION = 1
Progress = Callable[[int, int], None]  # (done, total)


class BackupError(Exception):
    """The backup file cannot be used; the message says why and what to do."""


class _Header(msgspec.Struct, tag="header", tag_field="kind"):
    format: str
    version: int
    created: float


class _File(msgspec.Struct):
    file: str
    path: str
    text: str
    revision: int
    history: list[tuple[int, list[int | str], str, int, str | None]]
    applied_seqs: dict[str, tuple[int, int]]


class _Room(msgspec.Struct, tag="room", tag_field="kind"):
    name: str
    created_at: float
    files: list[_File]
    chat: list[ChatMessage]


class _End(msgspec.Struct, tag="end", tag_field="kind"):
    rooms: int
    sha256: str


_line_decoder: msgspec.json.Decoder[_Header | _Room | _End] = msgspec.json.Decoder(
    _Header | _Room | _End
)


async def backup(
    store: SQLiteStore, destination: Path, *, history: int, progress: Progress | None = None
) -> int:
    """Write every room to ``destination``; returns the number of rooms."""
    total = len(await store.room_names())
    partial = destination.with_name(destination.name + ".partial")
    digest = hashlib.sha256()
    count = 0
    try:
        with gzip.open(partial, "wb") as out:
            out.write(msgspec.json.encode(_Header(FORMAT, VERSION, time.time())) + b"\n")
            async for record in store.export(history=history):
                line = msgspec.json.encode(_to_backup(record)) + b"\n"
                digest.update(line)
                out.write(line)
                count += 1
                if progress:
                    progress(count, max(total, count))
            out.write(msgspec.json.encode(_End(count, digest.hexdigest())) + b"\n")
            out.flush()
            os.fsync(out.fileno())
        partial.replace(destination)
    finally:
        partial.unlink(missing_ok=True)
    return count


def read_backup(source: Path, *, progress: Progress | None = None) -> list[RoomRecord]:
    """Read and check a whole backup file; raise ``BackupError`` if anything is off."""
    rooms: list[RoomRecord] = []
    digest = hashlib.sha256()
    end: _End | None = None
    size = source.stat().st_size
    try:
        with source.open("rb") as raw, gzip.open(raw, "rb") as lines:
            for number, line in enumerate(_lines(lines), 1):
                if end is not None:
                    raise BackupError(f"{source}: data after the end marker (line {number})")
                item = _decode_line(source, number, line)
                if number == 1:
                    if not isinstance(item, _Header) or item.format != FORMAT:
                        raise BackupError(f"{source} is not a pairtui backup")
                    if item.version > VERSION:
                        raise BackupError(
                            f"{source} is from a newer pairtui; upgrade to restore it"
                        )
                elif isinstance(item, _Room):
                    digest.update(line)
                    rooms.append(_from_backup(source, item))
                elif isinstance(item, _End):
                    end = item
                if progress:
                    progress(raw.tell(), size)
    except (EOFError, gzip.BadGzipFile, zlib.error) as error:
        raise BackupError(
            f"{source} is truncated or corrupt ({error}); nothing was restored"
        ) from None
    if end is None:
        raise BackupError(f"{source} is truncated (no end marker); nothing was restored")
    if end.rooms != len(rooms) or end.sha256 != digest.hexdigest():
        raise BackupError(f"{source} does not match its checksum; nothing was restored")
    return rooms


async def restore(store: SQLiteStore, source: Path, *, progress: Progress | None = None) -> int:
    """Replace the rooms in ``source`` in one transaction; returns the number of rooms."""
    rooms = read_backup(source, progress=progress)
    await store.replace_rooms(rooms)
    return len(rooms)


def _lines(stream: gzip.GzipFile) -> Iterator[bytes]:
    for line in stream:
        if not line.endswith(b"\n"):
            raise EOFError("the last line is cut short")
        yield line


def _decode_line(source: Path, number: int, line: bytes) -> _Header | _Room | _End:
    try:
        return _line_decoder.decode(line)
    except msgspec.DecodeError as error:
        raise BackupError(f"{source}: line {number} is damaged ({error})") from None


def _to_backup(record: RoomRecord) -> _Room:
    files = [
        _File(
            f.file,
            f.path,
            f.text,
            f.revision,
            [(e.revision, e.op.to_json(), e.client_id, e.seq, e.member) for e in f.history],
            dict(f.applied_seqs),
        )
        for f in record.files
    ]
    return _Room(record.name, record.created_at, files, list(record.chat))


def _from_backup(source: Path, room: _Room) -> RoomRecord:
    files = []
    for f in room.files:
        try:
            history = [
                HistoryEntry(r, TextOperation.from_json(op), c, s, m)
                for r, op, c, s, m in f.history
            ]
        except OTError as error:
            raise BackupError(f"{source}: {room.name}/{f.path} has a damaged op: {error}") from None
        expected = list(range(f.revision - len(history) + 1, f.revision + 1))
        if [e.revision for e in history] != expected:
            raise BackupError(f"{source}: {room.name}/{f.path} has a gap in its history")
        files.append(FileRecord(f.file, f.path, f.text, f.revision, history, dict(f.applied_seqs)))
    return RoomRecord(room.name, room.created_at, files, list(room.chat))
