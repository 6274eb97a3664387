"""The contract every store must keep, as a reusable suite (ShareDB's pattern).

A test module binds it to a store by subclassing ``StoreContract`` and
providing the ``store`` fixture; every store runs exactly these checks.
"""

from __future__ import annotations

import pytest

from pairtui.core.ot import TextOperation
from pairtui.core.protocol import ChatMessage
from server.document import HistoryEntry
from server.store.base import Store
from server.store.records import (
    ChatAppended,
    FileCreated,
    FileDeleted,
    FileRenamed,
    KeyHashes,
    KeysSet,
    OpAppended,
    RevisionConflict,
    RoomCreated,
    SnapshotSaved,
    StoreError,
)

ROOM = "contract"
CLIENT = "client-contract-0123"


def op_entry(revision: int, text_length: int, inserted: str, seq: int | None = None) -> OpAppended:
    op = TextOperation.from_edit(text_length, text_length, 0, inserted)
    entry = HistoryEntry(revision, op, CLIENT, seq or revision, "m1")
    return OpAppended(ROOM, "f1", entry, 1.0)


def chat(message_id: int) -> ChatAppended:
    message = ChatMessage(
        id=message_id,
        member="m1",
        name="ada",
        color="#ffffff",
        text=f"hello {message_id}",
        time=float(message_id),
    )
    return ChatAppended(ROOM, message, keep=3)


class StoreContract:
    async def create(self, store: Store) -> None:
        await store.commit([RoomCreated(ROOM, 1.0), FileCreated(ROOM, "f1", "main.py", "", 1.0)])

    async def test_unknown_room_loads_as_none(self, store: Store) -> None:
        assert await store.load_room("never", history=10) is None

    async def test_room_round_trip(self, store: Store) -> None:
        await self.create(store)
        await store.commit([op_entry(1, 0, "ab"), op_entry(2, 2, "c")])
        record = await store.load_room(ROOM, history=10)
        assert record is not None
        [file] = record.files
        assert (file.file, file.path, file.text, file.revision) == ("f1", "main.py", "abc", 2)
        assert [e.revision for e in file.history] == [1, 2]
        assert file.history[1].op == TextOperation.from_edit(2, 2, 0, "c")
        assert file.applied_seqs == {CLIENT: (2, 2)}
        assert await store.room_names() == [ROOM]

    async def test_op_must_follow_the_stored_revision(self, store: Store) -> None:
        await self.create(store)
        await store.commit([op_entry(1, 0, "a")])
        with pytest.raises(RevisionConflict):
            await store.commit([op_entry(1, 0, "b")])
        with pytest.raises(RevisionConflict):
            await store.commit([op_entry(3, 1, "b")])
        record = await store.load_room(ROOM, history=10)
        assert record is not None and record.files[0].text == "a"

    async def test_a_failing_batch_stores_nothing(self, store: Store) -> None:
        await self.create(store)
        with pytest.raises(StoreError):
            await store.commit([op_entry(1, 0, "a"), chat(1), op_entry(5, 1, "x")])
        record = await store.load_room(ROOM, history=10)
        assert record is not None
        assert record.files[0].revision == 0 and record.chat == []

    async def test_history_limit_and_snapshots(self, store: Store) -> None:
        await self.create(store)
        text = ""
        for revision in range(1, 21):
            await store.commit([op_entry(revision, len(text), str(revision % 10))])
            text += str(revision % 10)
            if revision == 12:
                await store.commit([SnapshotSaved(ROOM, "f1", 12, text, keep_ops=5)])
        record = await store.load_room(ROOM, history=4)
        assert record is not None
        [file] = record.files
        assert file.text == text and file.revision == 20
        assert [e.revision for e in file.history] == [17, 18, 19, 20]
        longer = await store.load_room(ROOM, history=100)
        assert longer is not None
        history = longer.files[0].history
        assert history[-1].revision == 20 and history[0].revision <= 8  # pruned below 12 - 5
        assert [e.revision for e in history] == list(range(history[0].revision, 21))

    async def test_chat_keeps_the_newest(self, store: Store) -> None:
        await self.create(store)
        for message_id in range(1, 6):
            await store.commit([chat(message_id)])
        record = await store.load_room(ROOM, history=1)
        assert record is not None
        assert [m.id for m in record.chat] == [3, 4, 5]

    async def test_rename_and_delete(self, store: Store) -> None:
        await self.create(store)
        await store.commit([FileCreated(ROOM, "f2", "b.py", "x", 2.0), op_entry(1, 0, "a")])
        await store.commit([FileRenamed(ROOM, "f2", "c.py"), FileDeleted(ROOM, "f1")])
        record = await store.load_room(ROOM, history=10)
        assert record is not None
        assert [(f.file, f.path, f.text) for f in record.files] == [("f2", "c.py", "x")]

    async def test_keys_are_kept_and_replaced(self, store: Store) -> None:
        await self.create(store)
        record = await store.load_room(ROOM, history=1)
        assert record is not None and record.keys is None
        await store.commit([KeysSet(ROOM, KeyHashes("w" * 64, "r" * 64))])
        await store.commit([KeysSet(ROOM, KeyHashes("x" * 64, "y" * 64))])
        record = await store.load_room(ROOM, history=1)
        assert record is not None and record.keys == KeyHashes("x" * 64, "y" * 64)

    async def test_the_duplicate_check_outlives_pruned_ops(self, store: Store) -> None:
        await self.create(store)
        text = ""
        for revision in range(1, 7):
            await store.commit([op_entry(revision, len(text), "x", seq=revision + 10)])
            text += "x"
        await store.commit([SnapshotSaved(ROOM, "f1", 6, text, keep_ops=0)])  # every op pruned
        other = OpAppended(
            ROOM,
            "f1",
            HistoryEntry(7, op_entry(7, 6, "y").entry.op, "other-client-0123", 1, "m2"),
            1.0,
        )
        await store.commit([other])
        record = await store.load_room(ROOM, history=100)
        assert record is not None
        [file] = record.files
        assert file.text == "xxxxxxy" and file.revision == 7
        assert file.applied_seqs == {CLIENT: (16, 6), "other-client-0123": (1, 7)}
        with pytest.raises(RevisionConflict):
            await store.commit([op_entry(7, 7, "z")])  # revision 7 is taken, even after pruning
