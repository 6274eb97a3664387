"""Timeouts, and a client that fell further behind than the relay keeps history for."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from pairtui.client import Backoff, ClientSession
from server.relay import Relay, RelayConfig
from server.room import RoomLimits
from server.store.sqlite import SQLiteStore
from tests.server.conftest import relay_url


@pytest.fixture
async def strict_relay(tmp_path: Path) -> AsyncIterator[Relay]:
    store = await SQLiteStore.open(tmp_path / "relay")
    config = RelayConfig(
        port=0,
        join_timeout=0.3,
        idle_timeout=0.5,
        room_limits=RoomLimits(history=5, snapshot_every=4),
    )
    relay = Relay(store, config)
    await relay.start()
    yield relay
    await relay.shutdown()
    await store.close()


async def recv_until_closed(connection: object) -> tuple[list[dict[str, object]], int | None]:
    messages = []
    try:
        while True:
            messages.append(json.loads(await connection.recv()))  # type: ignore[attr-defined]
    except ConnectionClosed as closed:
        return messages, closed.rcvd.code if closed.rcvd else None


async def test_a_connection_that_never_joins_is_closed(strict_relay: Relay) -> None:
    async with connect(relay_url(strict_relay)) as connection:
        messages, code = await asyncio.wait_for(recv_until_closed(connection), 5)
    assert [m["code"] for m in messages] == ["not_joined"]
    assert code == 1008


async def test_an_idle_connection_is_closed(strict_relay: Relay) -> None:
    async with connect(relay_url(strict_relay)) as connection:
        await connection.send(
            json.dumps(
                {"type": "join", "protocol": 1, "room": "idle", "name": "x", "client_id": "c" * 20}
            )
        )
        messages, code = await asyncio.wait_for(recv_until_closed(connection), 5)
    assert messages[0]["type"] == "welcome"
    assert code == 1001


async def test_client_far_behind_rebases_its_offline_edits(strict_relay: Relay) -> None:
    url = relay_url(strict_relay)
    ada = ClientSession(url, "far", "ada", backoff=Backoff(0.05, 0.1))
    bob = ClientSession(url, "far", "bob", backoff=Backoff(0.05, 0.1))
    await ada.start()
    await bob.start()
    file = ada.files[0].file
    await ada.open(file)
    await bob.open(file)
    ada.replace(file, 0, 0, "start\n")
    await ada.wait_synced()
    while bob.syncs[file].text != "start\n":
        await asyncio.sleep(0.01)
    # Bob drops off the network and keeps typing; Ada types far past the kept history.
    assert bob._connection is not None
    bob._connection.transport.abort()
    bob.backoff = Backoff(1.0, 1.0)
    await asyncio.sleep(0.05)
    bob.replace(file, 6, 0, "bob offline\n")
    for i in range(20):
        ada.replace(file, 0, 0, f"ada{i}\n")
        await ada.wait_synced()
    await bob.wait_synced(timeout=10)
    await ada.wait_synced()
    await asyncio.sleep(0.1)
    text = ada.syncs[file].text
    assert bob.syncs[file].text == text
    assert text.count("bob offline\n") == 1
    assert bob.syncs[file].next_seq == 3  # seq 1 was rebased onto a snapshot and sent as seq 2
    assert all(text.count(f"ada{i}\n") == 1 for i in range(20))
    await ada.close()
    await bob.close()


async def test_edits_refused_by_the_rate_limit_are_resent_not_lost(tmp_path: Path) -> None:
    from server.limits import RateLimit

    store = await SQLiteStore.open(tmp_path / "rate")
    relay = Relay(store, RelayConfig(port=0, rate=RateLimit(rate=20, burst=5, flood=100_000)))
    await relay.start()
    ada = ClientSession(relay_url(relay), "rate", "ada")
    await ada.start()
    file = ada.files[0].file
    await ada.open(file)
    for i in range(150):  # much faster than 20 messages a second
        ada.replace(file, len(ada.syncs[file].text), 0, f"{i},")
        await asyncio.sleep(0.002)
    await ada.wait_synced(timeout=30)
    expected = "".join(f"{i}," for i in range(150))
    record = await store.load_room("rate", history=10)
    assert record is not None and record.files[0].text == expected
    assert relay.metrics.errors["rate_limited"] > 0
    await ada.close()
    await relay.shutdown()
    await store.close()
