"""The store contract on SQLite, plus what only a file on disk can show."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from server.store.sqlite import DATABASE_NAME, SQLiteStore
from tests.server.store_contract import ROOM, StoreContract, op_entry


class TestSQLiteStore(StoreContract):
    @pytest.fixture
    async def store(self, tmp_path: Path) -> AsyncIterator[SQLiteStore]:
        store = await SQLiteStore.open(tmp_path)
        yield store
        await store.close()

    async def test_uses_wal_and_survives_reopening(self, tmp_path: Path) -> None:
        store = await SQLiteStore.open(tmp_path)
        await self.create(store)
        await store.commit([op_entry(1, 0, "kept")])
        await store.close()
        mode = sqlite3.connect(tmp_path / DATABASE_NAME).execute("PRAGMA journal_mode").fetchone()
        assert mode[0] == "wal"
        reopened = await SQLiteStore.open(tmp_path)
        record = await reopened.load_room(ROOM, history=5)
        assert record is not None and record.files[0].text == "kept"
        await reopened.close()

    async def test_concurrent_commits_are_grouped(self, store: SQLiteStore) -> None:
        await self.create(store)
        rooms = [f"r{i}" for i in range(50)]
        from server.store.records import RoomCreated

        before = store.transactions
        await asyncio.gather(*(store.commit([RoomCreated(name, 1.0)]) for name in rooms))
        assert store.transactions - before < len(rooms)  # fewer transactions than commits
        assert set(rooms) <= set(await store.room_names())

    async def test_full_disk_is_a_store_error_and_recovers(self, store: SQLiteStore) -> None:
        from server.store.records import StoreError

        await self.create(store)
        await store.cap_size(0)  # no room for one more page
        with pytest.raises(StoreError, match="full"):
            await store.commit([op_entry(1, 0, "x" * 50_000)])
        await store.cap_size(None)
        await store.commit([op_entry(1, 0, "x" * 50_000)])
        record = await store.load_room(ROOM, history=5)
        assert record is not None and record.files[0].revision == 1
