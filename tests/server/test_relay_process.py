"""The real relay process: kill -9 loses no acknowledged edit; SIGTERM shuts down cleanly."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from pairtui.client import Backoff, ClientSession, StatusChanged
from tests.server.raw import RawPeer
from tests.server.relay_process import RelayProcess, free_port

SEED = 4242


@pytest.fixture
def relay_process(tmp_path: Path) -> Iterator[RelayProcess]:
    process = RelayProcess(tmp_path / "relay", free_port())
    process.start()
    yield process
    process.stop()


async def type_markers(
    session: ClientSession, file: str, rng: random.Random, typed: list[str], stop: asyncio.Event
) -> None:
    """Type unique markers at random places until told to stop (offline too)."""
    while not stop.is_set():
        sync = session.syncs[file]
        marker = f"<{session.name}{len(typed)}>"
        positions = [0] + [i + 1 for i, c in enumerate(sync.text) if c == ">"]
        session.replace(file, rng.choice(positions), 0, marker)
        typed.append(marker)
        await asyncio.sleep(rng.uniform(0.002, 0.02))


async def relay_text(url: str, room: str, file: str) -> str:
    peer, _ = await RawPeer.join(url, room=room, client_id="inspector-0123456789")
    await peer.send({"type": "open", "file": file})
    snapshot = await peer.expect("snapshot")
    await peer.close()
    return str(snapshot["text"])


async def test_kill_9_while_typing_loses_no_acknowledged_edit(
    relay_process: RelayProcess,
) -> None:
    rng = random.Random(SEED)
    print(f"seed {SEED}")
    people = [
        ClientSession(relay_process.url, "crash", name, backoff=Backoff(0.05, 0.3))
        for name in ("ada", "bob")
    ]
    for person in people:
        await person.start()
    file = people[0].files[0].file
    for person in people:
        await person.open(file)
    typed: dict[str, list[str]] = {person.name: [] for person in people}
    stop = asyncio.Event()
    typists = [asyncio.create_task(type_markers(p, file, rng, typed[p.name], stop)) for p in people]
    for _round in range(3):
        await asyncio.sleep(rng.uniform(0.4, 0.8))
        acknowledged = {
            marker
            for person in people
            for marker in typed[person.name]
            if marker in person.syncs[file].server_text  # in the text the relay confirmed
        }
        relay_process.kill()
        relay_process.start()
        stored = await relay_text(relay_process.url, "crash", file)
        lost = [m for m in acknowledged if stored.count(m) != 1]
        assert not lost, f"acknowledged edits lost or doubled after kill -9: {lost[:5]}"
    stop.set()
    await asyncio.gather(*typists)
    for person in people:
        await person.wait_synced(timeout=15)
    final = await relay_text(relay_process.url, "crash", file)
    for person in people:
        assert person.syncs[file].text == final
        for marker in typed[person.name]:
            assert final.count(marker) == 1, f"{marker} appears {final.count(marker)} times"
        assert person.reconnects >= 3
        await person.close()


async def test_sigterm_stores_everything_and_closes_clients_with_1012(
    relay_process: RelayProcess,
) -> None:
    ada = ClientSession(relay_process.url, "bye", "ada", backoff=Backoff(5, 5))
    closes: list[str | None] = []
    ada.subscribe(lambda e: closes.append(e.reason) if isinstance(e, StatusChanged) else None)
    await ada.start()
    file = ada.files[0].file
    await ada.open(file)
    for i in range(50):
        ada.replace(file, 0, 0, f"{i};")
    await ada.wait_synced()
    assert relay_process.terminate() == 0
    await asyncio.sleep(0.2)
    assert "the relay is restarting" in closes  # close code 1012
    expected = ada.syncs[file].text
    await ada.close()
    relay_process.start()
    assert await relay_text(relay_process.url, "bye", file) == expected


async def test_raw_close_code_on_sigterm_is_1012(relay_process: RelayProcess) -> None:
    async with connect(relay_process.url) as connection:
        await connection.send(
            '{"type":"join","protocol":1,"room":"r","name":"x","client_id":"raw-client-0123456789"}'
        )
        await connection.recv()
        await asyncio.to_thread(relay_process.terminate)

        async def read_until_closed() -> None:
            while True:
                await connection.recv()

        with pytest.raises(ConnectionClosed) as closed:
            await read_until_closed()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1012
