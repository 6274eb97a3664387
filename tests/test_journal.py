"""Edits the relay has not stored survive the client's exit and arrive once next time."""

from __future__ import annotations

import asyncio
from pathlib import Path

from pairtui.client import Backoff, ClientSession
from pairtui.journal import Journal
from server.relay import Relay, RelayConfig
from server.store.sqlite import SQLiteStore
from tests.server.relay_process import free_port


async def start_relay(data: Path, port: int) -> tuple[Relay, SQLiteStore]:
    store = await SQLiteStore.open(data)
    relay = Relay(store, RelayConfig(port=port))
    await relay.start()
    return relay, store


async def stop_relay(relay: Relay, store: SQLiteStore) -> None:
    await relay.shutdown()
    await store.close()


def session(url: str, home: Path) -> ClientSession:
    return ClientSession(
        url, "journal", "ada", backoff=Backoff(0.05, 0.2), journal=Journal(home, url, "journal")
    )


async def test_offline_edits_survive_quitting_and_arrive_once(tmp_path: Path) -> None:
    port = free_port()
    url = f"ws://127.0.0.1:{port}/"
    relay, store = await start_relay(tmp_path / "relay", port)
    ada = session(url, tmp_path / "home")
    await ada.start()
    file = ada.files[0].file
    await ada.open(file)
    ada.replace(file, 0, 0, "online\n")
    await ada.wait_synced()
    await stop_relay(relay, store)
    for _ in range(100):
        if ada.status != "connected":
            break
        await asyncio.sleep(0.01)
    ada.replace(file, 7, 0, "offline one\n")
    ada.replace(file, 19, 0, "offline two\n")
    assert ada.pending
    await ada.close()  # quit while offline

    relay, store = await start_relay(tmp_path / "relay", port)
    again = session(url, tmp_path / "home")
    assert again.client_id == ada.client_id
    assert again.syncs[file].text == "online\noffline one\noffline two\n"
    await again.start()
    await again.wait_synced()
    record = await store.load_room("journal", history=10)
    assert record is not None
    assert record.files[0].text == "online\noffline one\noffline two\n"
    await again.close()  # flushes the journal: nothing is pending any more
    assert not list((Journal(tmp_path / "home", url, "journal").folder).glob("*.pending.json"))
    await stop_relay(relay, store)


async def test_an_edit_stored_but_never_acknowledged_is_not_applied_twice(tmp_path: Path) -> None:
    port = free_port()
    url = f"ws://127.0.0.1:{port}/"
    relay, store = await start_relay(tmp_path / "relay", port)
    ada = session(url, tmp_path / "home")
    await ada.start()
    file = ada.files[0].file
    await ada.open(file)
    await ada.wait_synced()
    # The relay stores the edit, but the connection drops before the ack arrives,
    # and the person quits before the client reconnects.
    ada.backoff = Backoff(30, 30)
    assert ada._connection is not None
    connection = ada._connection
    connection.transport.pause_reading()  # the ack will never be read
    ada.replace(file, 0, 0, "exactly once\n")
    for _ in range(200):
        record = await store.load_room("journal", history=10)
        if record is not None and record.files[0].revision == 1:
            break
        await asyncio.sleep(0.01)
    connection.transport.abort()
    while ada.status == "connected":
        await asyncio.sleep(0.01)
    await ada.close()
    record = await store.load_room("journal", history=10)
    assert record is not None and record.files[0].text == "exactly once\n"

    again = session(url, tmp_path / "home")
    assert again.syncs[file].has_pending
    await again.start()
    await again.wait_synced()
    record = await store.load_room("journal", history=10)
    assert record is not None and record.files[0].text == "exactly once\n"
    assert again.syncs[file].text == "exactly once\n"
    await again.close()
    await stop_relay(relay, store)
