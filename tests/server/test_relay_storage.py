"""A full disk: edits are refused clearly, nothing acknowledged is lost, and it recovers."""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Sequence
from pathlib import Path

import pytest

from pairtui.access import create_room
from pairtui.client import Backoff, ClientSession, ErrorReceived, SessionClosed
from pairtui.core.keys import read_key_for
from server.logs import JsonFormatter, get_logger
from server.relay import Relay, RelayConfig
from server.store.records import StoreError, Write
from server.store.sqlite import SQLiteStore
from tests.server.conftest import SessionFactory, relay_url
from tests.waiting import until


async def test_full_disk_refuses_edits_keeps_acknowledged_ones_and_recovers(
    tmp_path: Path,
) -> None:
    store = await SQLiteStore.open(tmp_path / "relay")
    relay = Relay(store, RelayConfig(port=0))
    await relay.start()
    ada = ClientSession(relay_url(relay), "full", "ada", backoff=Backoff(0.05, 0.2))
    errors: list[str] = []
    ada.subscribe(lambda e: errors.append(e.code) if isinstance(e, ErrorReceived) else None)
    await ada.start()
    file = ada.files[0].file
    await ada.open(file)
    ada.replace(file, 0, 0, "acknowledged\n")
    await ada.wait_synced()
    await store.cap_size(0)
    ada.replace(file, 13, 0, "x" * 200_000)  # needs new pages: the disk is "full"
    for _ in range(300):
        if "storage_unavailable" in errors:
            break
        await asyncio.sleep(0.01)
    assert "storage_unavailable" in errors
    assert ada.pending  # the edit is kept, not dropped
    record = await store.load_room("full", history=10)
    assert record is not None and record.files[0].text == "acknowledged\n"
    await store.cap_size(None)  # space is back
    await ada.wait_synced(timeout=15)
    record = await store.load_room("full", history=10)
    assert record is not None and record.files[0].text == "acknowledged\n" + "x" * 200_000
    assert ada.syncs[file].text == record.files[0].text
    await ada.close()
    await relay.shutdown()
    await store.close()


async def test_logs_name_ids_but_never_text_chat_or_keys(
    relay: Relay, session: SessionFactory
) -> None:
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(JsonFormatter())
    logger = get_logger()
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        write_key = await create_room(relay_url(relay), "demo", None, None)
        ada = await session("ada", key=write_key)
        with pytest.raises(SessionClosed):
            await session("eve", key="WRONG-KEY-1234567890")
        file = ada.files[0].file
        await ada.open(file)
        ada.replace(file, 0, 0, "SECRET-DOCUMENT-TEXT")
        ada.send_chat("SECRET-CHAT-MESSAGE")
        await ada.wait_synced()
        ada.send_raw('{"type": "chat", "text": "SECRET-IN-BAD-FRAME", "x": [}')
        await asyncio.sleep(0.1)
        await ada.close()
        await asyncio.sleep(0.05)
    finally:
        logger.removeHandler(handler)
    logs = buffer.getvalue()
    assert '"room": "demo"' in logs and '"conn":' in logs
    assert "wrong key or token" in logs
    secrets = (write_key, read_key_for(write_key), "WRONG-KEY", "SECRET-DOCUMENT", "SECRET-CHAT")
    for secret in (*secrets, "SECRET-IN-BAD"):
        assert secret not in logs


class HeldStore(SQLiteStore):
    """A real SQLite store whose next commit waits for the test, then fails like a full disk."""

    held: asyncio.Event | None = None
    reached: asyncio.Event | None = None

    async def commit(self, writes: Sequence[Write]) -> None:
        if self.held is not None and writes:
            held, self.held = self.held, None
            assert self.reached is not None
            self.reached.set()
            await held.wait()
            raise StoreError("database or disk is full")
        await super().commit(writes)


async def test_someone_joining_while_a_commit_fails_is_sent_back_not_left_waiting(
    tmp_path: Path,
) -> None:
    """Their join sits in the room's queue when the room gives up: it must not be forgotten."""
    store = await HeldStore.open(tmp_path / "relay")
    relay = Relay(store, RelayConfig(port=0))
    await relay.start()
    sessions: list[ClientSession] = []
    try:
        ada = ClientSession(relay_url(relay), "held", "ada", backoff=Backoff(0.05, 0.2))
        sessions.append(ada)
        await ada.start()
        file = ada.files[0].file
        await ada.open(file)
        store.held, store.reached = asyncio.Event(), asyncio.Event()
        held = store.held
        ada.replace(file, 0, 0, "typed while the disk filled up\n")
        await asyncio.wait_for(store.reached.wait(), 5)  # the room waits on the commit
        bob = ClientSession(relay_url(relay), "held", "bob", backoff=Backoff(0.05, 0.2))
        sessions.append(bob)
        await bob.start(wait=False)
        await until(lambda: any(w.queue.qsize() for w in relay.rooms.values()), 5)
        held.set()  # the commit fails with bob's join still queued
        await bob.wait_joined(timeout=10)  # sent back, came again, welcomed
        await ada.wait_synced()
        bob_sync = await bob.open(file)
        await until(lambda: bob_sync.text == "typed while the disk filled up\n")
    finally:
        for session in sessions:
            await session.close()
        await relay.shutdown()
        await store.close()
