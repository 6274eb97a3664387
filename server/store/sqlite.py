"""SQLite, the embedded default store: one file in the data directory, WAL mode.

All database work runs on one dedicated thread with one connection, so the
event loop never blocks on disk. Commits are grouped: while one transaction
is being written, further commits queue up and go into the next transaction
together, so a busy relay writes a few transactions per millisecond, not one
per keystroke. A commit returns only after its transaction is committed; with
``synchronous=NORMAL`` in WAL mode that survives a ``kill -9`` of the relay
(``synchronous=FULL`` also survives a power cut, at some cost in latency).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Literal, TypeVar

import msgspec

from pairtui.core.ot import TextOperation
from pairtui.core.protocol import ChatMessage
from server.document import HistoryEntry
from server.store.base import Store
from server.store.grouping import GroupCommit
from server.store.loading import StoredFile, oldest_needed
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

SCHEMA_VERSION = 3
# 2: room keys (an older relay would let anyone into a locked room).
# 3: a file's revision is its newest op (files.revision and client_seqs are brought up
#    to date only at snapshots), so an op costs one INSERT; an older relay would
#    misread that.
CURRENT_REVISION = """
SELECT MAX(f.revision, f.snapshot_revision, COALESCE(
    (SELECT MAX(o.revision) FROM ops o WHERE o.room = f.room AND o.file = f.file), 0))
FROM files f WHERE f.room = ? AND f.file = ?
"""
MAX_CACHED_REVISIONS = 100_000
SCHEMA = """
CREATE TABLE IF NOT EXISTS rooms (
    room TEXT PRIMARY KEY,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS files (
    room TEXT NOT NULL,
    file TEXT NOT NULL,
    path TEXT NOT NULL,
    created_at REAL NOT NULL,
    revision INTEGER NOT NULL,
    snapshot_revision INTEGER NOT NULL,
    snapshot_text TEXT NOT NULL,
    PRIMARY KEY (room, file)
);
CREATE TABLE IF NOT EXISTS ops (
    room TEXT NOT NULL,
    file TEXT NOT NULL,
    revision INTEGER NOT NULL,
    client_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    member TEXT,
    op TEXT NOT NULL,
    time REAL NOT NULL,
    PRIMARY KEY (room, file, revision)
);
CREATE TABLE IF NOT EXISTS client_seqs (
    room TEXT NOT NULL,
    file TEXT NOT NULL,
    client_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    revision INTEGER NOT NULL,
    PRIMARY KEY (room, file, client_id)
);
CREATE TABLE IF NOT EXISTS room_keys (
    room TEXT PRIMARY KEY,
    write_hash TEXT NOT NULL,
    read_hash TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS chat (
    room TEXT NOT NULL,
    id INTEGER NOT NULL,
    message TEXT NOT NULL,
    PRIMARY KEY (room, id)
);
"""

DATABASE_NAME = "pairtui.sqlite3"
Synchronous = Literal["NORMAL", "FULL"]
T = TypeVar("T")
_chat_decoder = msgspec.json.Decoder(ChatMessage)
_op_decoder = msgspec.json.Decoder(list[int | str])


class SQLiteStore(Store):
    """Rooms in one SQLite database file."""

    def __init__(self, path: Path, *, synchronous: Synchronous = "NORMAL") -> None:
        self.path = path
        self.synchronous = synchronous
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="pairtui-sqlite")
        self._connection: sqlite3.Connection | None = None
        self._group = GroupCommit(lambda writes: self._run(partial(self._transaction, writes)))
        self.transactions = 0
        # Each file's stored revision, for the compare-and-set on ops; this store is the
        # database's only writer (the data directory's lock), so memory can hold it.
        self._revisions: dict[tuple[str, str], int | None] = {}

    @classmethod
    async def open(cls, data_dir: Path, *, synchronous: Synchronous = "NORMAL") -> SQLiteStore:
        """Open (creating if needed) the database in ``data_dir``."""
        data_dir.mkdir(parents=True, exist_ok=True)
        store = cls(data_dir / DATABASE_NAME, synchronous=synchronous)
        await store._run(store._connect)
        return store

    # -- the Store interface ------------------------------------------------------

    async def load_room(self, name: str, *, history: int) -> RoomRecord | None:
        return await self._run(lambda: self._load_room(self._db(), name, history))

    async def commit(self, writes: Sequence[Write]) -> None:
        await self._group.commit(writes)

    async def room_names(self) -> list[str]:
        return await self._run(
            lambda: [row[0] for row in self._db().execute("SELECT room FROM rooms ORDER BY room")]
        )

    async def close(self) -> None:
        await self._group.drain()
        if self._connection is not None:
            await self._run(self._db().close)
            self._connection = None
        self._executor.shutdown(wait=True)

    async def cap_size(self, pages: int | None) -> None:
        """Cap the database at ``pages`` pages (``None`` lifts the cap).

        Commits past the cap fail as on a full disk; tests use it to check
        that the relay refuses edits cleanly and recovers when space is back.
        """

        def apply() -> None:
            db = self._db()
            if pages is None:
                db.execute("PRAGMA max_page_count=4294967294")
            else:
                used = db.execute("PRAGMA page_count").fetchone()[0]
                db.execute(f"PRAGMA max_page_count={max(int(pages), used)}")

        await self._run(apply)

    # -- backup and restore ---------------------------------------------------------

    async def export(self, *, history: int) -> AsyncIterator[RoomRecord]:
        """Every room as of one moment (one read transaction), for a consistent backup."""
        reader = await self._run(self._open_reader)
        try:
            names = await self._run(
                lambda: [row[0] for row in reader.execute("SELECT room FROM rooms ORDER BY room")]
            )
            for name in names:
                record = await self._run(partial(self._load_room, reader, name, history))
                if record is not None:
                    yield record
        finally:
            await self._run(reader.close)

    async def replace_rooms(self, records: Sequence[RoomRecord]) -> None:
        """Replace these rooms wholesale in one transaction: all of them or none."""
        await self._run(lambda: self._replace_rooms(records))

    # -- thread side -------------------------------------------------------------------

    def _connect(self) -> None:
        try:
            connection = sqlite3.connect(self.path, isolation_level=None)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute(f"PRAGMA synchronous={self.synchronous}")
            connection.execute("PRAGMA busy_timeout=5000")
            version = connection.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"{self.path} was written by a newer pairtui (schema {version}); "
                    "upgrade pairtui"
                )
            connection.executescript(SCHEMA)
            connection.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        except sqlite3.Error as error:
            raise StoreError(f"cannot open {self.path}: {error}") from error
        self._connection = connection

    def _open_reader(self) -> sqlite3.Connection:
        reader = sqlite3.connect(self.path, isolation_level=None)
        reader.execute("BEGIN")  # one snapshot of the database for the whole export
        return reader

    def _db(self) -> sqlite3.Connection:
        if self._connection is None:
            raise StoreError("the store is closed")
        return self._connection

    async def _run(self, function: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, function)

    def _transaction(self, writes: Sequence[Write]) -> None:
        db = self._db()
        revisions: dict[tuple[str, str], int | None] = {}  # as this transaction sees them
        op_rows: list[tuple[object, ...]] = []

        def revision_of(key: tuple[str, str]) -> int | None:
            if key in revisions:
                return revisions[key]
            if key in self._revisions:
                return self._revisions[key]
            row = db.execute(CURRENT_REVISION, key).fetchone()
            return None if row is None else int(row[0])

        def insert_ops() -> None:
            if op_rows:
                db.executemany("INSERT INTO ops VALUES (?, ?, ?, ?, ?, ?, ?, ?)", op_rows)
                op_rows.clear()

        def work() -> None:
            for write in writes:
                if isinstance(write, OpAppended):
                    key, entry = (write.room, write.file), write.entry
                    current = revision_of(key)
                    if current is None or entry.revision != current + 1:
                        raise RevisionConflict(
                            f"{write.room}/{write.file}: revision {current} is stored, "
                            f"not {entry.revision - 1}"
                        )
                    revisions[key] = entry.revision
                    op_rows.append(_op_row(write))
                    continue
                insert_ops()  # everything else sees the ops before it
                _apply_write(db, write)
                if isinstance(write, FileCreated):
                    revisions[(write.room, write.file)] = 0
                elif isinstance(write, FileDeleted):
                    revisions[(write.room, write.file)] = None
            insert_ops()

        _atomically(db, work, "write")
        if len(self._revisions) > MAX_CACHED_REVISIONS:
            self._revisions.clear()
        self._revisions.update(revisions)  # only what was committed
        self.transactions += 1

    @staticmethod
    def _load_room(db: sqlite3.Connection, name: str, history: int) -> RoomRecord | None:
        row = db.execute("SELECT created_at FROM rooms WHERE room = ?", (name,)).fetchone()
        if row is None:
            return None
        files = [
            _load_file(db, name, file, path, revision, snapshot_revision, snapshot_text, history)
            for file, path, revision, snapshot_revision, snapshot_text in db.execute(
                "SELECT f.file, f.path, MAX(f.revision, f.snapshot_revision, COALESCE("
                "(SELECT MAX(o.revision) FROM ops o WHERE o.room = f.room AND o.file = f.file), 0)"
                "), f.snapshot_revision, f.snapshot_text FROM files f "
                "WHERE f.room = ? ORDER BY f.created_at, f.file",
                (name,),
            ).fetchall()
        ]
        chat = [
            _chat_decoder.decode(message)
            for (message,) in db.execute(
                "SELECT message FROM chat WHERE room = ? ORDER BY id", (name,)
            ).fetchall()
        ]
        keys = db.execute(
            "SELECT write_hash, read_hash FROM room_keys WHERE room = ?", (name,)
        ).fetchone()
        return RoomRecord(
            name=name,
            created_at=row[0],
            files=files,
            chat=chat,
            keys=KeyHashes(keys[0], keys[1]) if keys else None,
        )

    def _replace_rooms(self, records: Sequence[RoomRecord]) -> None:
        db = self._db()
        self._revisions.clear()

        def work() -> None:
            for record in records:
                _replace_room(db, record)

        _atomically(db, work, "restore")


def _atomically(db: sqlite3.Connection, work: Callable[[], None], what: str) -> None:
    """Run ``work`` in one immediate transaction: all of it is stored, or none."""
    try:
        db.execute("BEGIN IMMEDIATE")
        work()
        db.execute("COMMIT")
    except BaseException as error:
        if db.in_transaction:  # SQLite may have rolled back already (a full disk does)
            db.execute("ROLLBACK")
        if isinstance(error, sqlite3.Error):
            raise StoreError(f"the database refused the {what}: {error}") from error
        raise


def _load_file(
    db: sqlite3.Connection,
    room: str,
    file: str,
    path: str,
    revision: int,
    snapshot_revision: int,
    snapshot_text: str,
    history: int,
) -> FileRecord:
    entries = [
        HistoryEntry(rev, TextOperation.from_json(_op_decoder.decode(op)), client_id, seq, member)
        for rev, client_id, seq, member, op in db.execute(
            "SELECT revision, client_id, seq, member, op FROM ops "
            "WHERE room = ? AND file = ? AND revision > ? ORDER BY revision",
            (room, file, oldest_needed(snapshot_revision, revision, history)),
        ).fetchall()
    ]
    applied = {
        client_id: (seq, rev)
        for client_id, seq, rev in db.execute(
            "SELECT client_id, seq, revision FROM client_seqs WHERE room = ? AND file = ?",
            (room, file),
        )
    }
    for client_id, seq, rev in db.execute(  # newer: the ops still kept
        "SELECT client_id, MAX(seq), MAX(revision) FROM ops WHERE room = ? AND file = ? "
        "GROUP BY client_id",
        (room, file),
    ):
        if client_id not in applied or seq > applied[client_id][0]:
            applied[client_id] = (seq, rev)
    stored = StoredFile(file, path, revision, snapshot_revision, snapshot_text, entries, applied)
    return stored.record(room, history)


def _op_row(write: OpAppended) -> tuple[object, ...]:
    entry = write.entry
    return (
        write.room,
        write.file,
        entry.revision,
        entry.client_id,
        entry.seq,
        entry.member,
        msgspec.json.encode(entry.op.ops).decode(),
        write.time,
    )


def _apply_write(db: sqlite3.Connection, write: Write) -> None:
    """Any write but an op (``SQLiteStore._transaction`` inserts those, in batches)."""
    if isinstance(write, OpAppended):
        raise TypeError("ops are written by SQLiteStore._transaction")
    if isinstance(write, ChatAppended):
        message = write.message
        db.execute(
            "INSERT OR REPLACE INTO chat VALUES (?, ?, ?)",
            (write.room, message.id, msgspec.json.encode(message).decode()),
        )
        db.execute(
            "DELETE FROM chat WHERE room = ? AND id <= ?", (write.room, message.id - write.keep)
        )
    elif isinstance(write, SnapshotSaved):
        db.execute(
            "UPDATE files SET snapshot_revision = ?, snapshot_text = ?, "
            "revision = MAX(revision, ?) WHERE room = ? AND file = ? AND snapshot_revision < ?",
            (write.revision, write.text, write.revision, write.room, write.file, write.revision),
        )
        cutoff = (write.room, write.file, write.revision - write.keep_ops)
        # The duplicate check outlives the ops: keep each client's last seq of those dropped.
        db.execute(
            "INSERT INTO client_seqs (room, file, client_id, seq, revision) "
            "SELECT room, file, client_id, MAX(seq), MAX(revision) FROM ops "
            "WHERE room = ? AND file = ? AND revision <= ? GROUP BY client_id "
            "ON CONFLICT (room, file, client_id) DO UPDATE SET "
            "seq = excluded.seq, revision = excluded.revision WHERE excluded.seq > seq",
            cutoff,
        )
        db.execute("DELETE FROM ops WHERE room = ? AND file = ? AND revision <= ?", cutoff)
    elif isinstance(write, KeysSet):
        db.execute(
            "INSERT OR REPLACE INTO room_keys VALUES (?, ?, ?)",
            (write.room, write.keys.write, write.keys.read),
        )
    elif isinstance(write, RoomCreated):
        db.execute("INSERT OR IGNORE INTO rooms VALUES (?, ?)", (write.room, write.created_at))
    elif isinstance(write, FileCreated):
        db.execute(
            "INSERT INTO files VALUES (?, ?, ?, ?, 0, 0, ?)",
            (write.room, write.file, write.path, write.created_at, write.text),
        )
    elif isinstance(write, FileRenamed):
        db.execute(
            "UPDATE files SET path = ? WHERE room = ? AND file = ?",
            (write.path, write.room, write.file),
        )
    elif isinstance(write, FileDeleted):
        for table in ("files", "ops", "client_seqs"):
            db.execute(f"DELETE FROM {table} WHERE room = ? AND file = ?", (write.room, write.file))


def _replace_room(db: sqlite3.Connection, record: RoomRecord) -> None:
    for table in ("rooms", "files", "ops", "client_seqs", "chat", "room_keys"):
        db.execute(f"DELETE FROM {table} WHERE room = ?", (record.name,))
    db.execute("INSERT INTO rooms VALUES (?, ?)", (record.name, record.created_at))
    if record.keys is not None:
        db.execute(
            "INSERT INTO room_keys VALUES (?, ?, ?)",
            (record.name, record.keys.write, record.keys.read),
        )
    for index, file in enumerate(record.files):
        # The current text becomes the snapshot; kept history stays as ops at or
        # below it, for catch-ups, exactly as in a live database.
        db.execute(
            "INSERT INTO files VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                record.name,
                file.file,
                file.path,
                record.created_at + index * 1e-6,
                file.revision,
                file.revision,
                file.text,
            ),
        )
        for entry in file.history:
            db.execute(
                "INSERT INTO ops VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    record.name,
                    file.file,
                    entry.revision,
                    entry.client_id,
                    entry.seq,
                    entry.member,
                    msgspec.json.encode(entry.op.ops).decode(),
                    0.0,
                ),
            )
        for client_id, (seq, revision) in file.applied_seqs.items():
            db.execute(
                "INSERT INTO client_seqs VALUES (?, ?, ?, ?, ?)",
                (record.name, file.file, client_id, seq, revision),
            )
    for message in record.chat:
        db.execute(
            "INSERT INTO chat VALUES (?, ?, ?)",
            (record.name, message.id, msgspec.json.encode(message).decode()),
        )
