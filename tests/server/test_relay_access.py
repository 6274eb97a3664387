"""Room keys through a real relay: each key gets exactly its rights, guessing is braked."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from pairtui.access import AccessError, create_room
from pairtui.client import ClientSession, ErrorReceived, KeysReceived, SessionClosed
from pairtui.core import protocol as p
from pairtui.core.keys import read_key_for
from server.auth import AdminTokens, Brakes
from server.gate import GateLimits
from server.relay import Relay, RelayConfig
from server.store.sqlite import SQLiteStore
from tests.waiting import until

Start = Callable[..., Awaitable[Relay]]
Join = Callable[..., Awaitable[ClientSession]]


@pytest.fixture
async def start(tmp_path: Path) -> AsyncIterator[Start]:
    started: list[tuple[Relay, SQLiteStore]] = []

    async def make(**config: object) -> Relay:
        store = await SQLiteStore.open(tmp_path / f"relay{len(started)}")
        relay = Relay(store, RelayConfig(port=0, room_linger=0.5, **config))  # type: ignore[arg-type]
        await relay.start()
        started.append((relay, store))
        return relay

    yield make
    for relay, store in started:
        await relay.shutdown()
        await store.close()


@pytest.fixture
def join(sessions: Callable[..., Awaitable[ClientSession]]) -> Join:
    async def make(relay: Relay, room: str, name: str, key: str | None = None) -> ClientSession:
        return await sessions(relay, name, room, key=key)

    return make


def url(relay: Relay) -> str:
    return f"ws://127.0.0.1:{relay.port}/"


def errors_of(session: ClientSession) -> list[str]:
    seen: list[str] = []
    session.subscribe(lambda e: seen.append(e.code) if isinstance(e, ErrorReceived) else None)
    return seen


async def test_each_key_gets_exactly_its_rights(start: Start, join: Join) -> None:
    relay = await start(gate=GateLimits(brakes=Brakes(first_delay=0.01)))
    write_key = await create_room(url(relay), "camp", None, None)
    read_key = read_key_for(write_key)
    for wrong in (None, "not-the-key-0123456789", read_key + "x"):
        with pytest.raises(SessionClosed, match="bad_key"):
            await join(relay, "camp", "eve", wrong)
    ada = await join(relay, "camp", "ada", write_key)
    guest = await join(relay, "camp", "guest", read_key)
    assert (ada.role, guest.role) == ("write", "read")
    file = ada.files[0].file
    await ada.open(file)
    await guest.open(file)
    refused = errors_of(guest)
    guest.edit(file, p.parse_operation(["sneaky"]))
    guest.create_file("evil.py")
    guest.rename_file(file, "renamed.py")
    guest.delete_file(file)
    guest.send_chat("let me in")
    guest.rotate_keys()
    await until(lambda: len(refused) >= 6)
    assert set(refused) == {"read_only"}
    ada.replace(file, 0, 0, "print('live')\n")
    ada.send_chat("watch this")
    ada.set_presence(p.SetPresence(file=file, cursor=3))
    await ada.wait_synced()
    await until(lambda: guest.syncs[file].text.endswith("print('live')\n"))
    await until(lambda: bool(guest.chat) and guest.chat[-1].text == "watch this")
    await until(lambda: guest.members[ada.member or ""].cursor == 3)
    record = await relay.store.load_room("camp", history=10)
    assert record is not None
    assert [f.path for f in record.files] == ["main.py"]
    assert record.files[0].text == "print('live')\n"  # the guest's edit was never applied
    assert [m.text for m in record.chat] == ["watch this"]


async def test_keyed_relay_refuses_open_rooms_and_needs_a_token_to_create(start: Start) -> None:
    relay = await start(
        require_keys=True,
        admin_tokens=AdminTokens(["admin-token-0123456789"]),
        gate=GateLimits(brakes=Brakes(first_delay=0.01)),
    )
    with pytest.raises(SessionClosed, match="bad_key"):
        await ClientSession(url(relay), "nokeys", "eve").start()
    with pytest.raises(AccessError, match="admin token"):
        await create_room(url(relay), "camp", None, None)
    with pytest.raises(AccessError, match="admin token"):
        await create_room(url(relay), "camp", "wrong-token-0123456789", None)
    assert await relay.store.room_names() == []  # refused attempts create nothing
    key = await create_room(url(relay), "camp", "admin-token-0123456789", None)
    with pytest.raises(AccessError, match="exists already"):
        await create_room(url(relay), "camp", "admin-token-0123456789", None)
    session = ClientSession(url(relay), "camp", "ada", key=key)
    await session.start()
    assert session.role == "write"
    await session.close()


async def test_an_open_room_given_keys_keeps_its_people_in(start: Start, join: Join) -> None:
    relay = await start()
    ada = await join(relay, "demo", "ada")
    new_keys: list[KeysReceived] = []
    ada.subscribe(lambda e: new_keys.append(e) if isinstance(e, KeysReceived) else None)
    key = await create_room(url(relay), "demo", None, None)
    await until(lambda: bool(new_keys))
    assert ada.key == key and new_keys[0].writes
    with pytest.raises(SessionClosed, match="bad_key"):
        await join(relay, "demo", "eve")
    await ada._connection.close()  # type: ignore[union-attr]  # a dropped connection
    await until(lambda: ada.reconnects >= 1 and ada.status == "connected")
    assert ada.role == "write"


async def test_rotation_locks_out_old_links_and_removal_disconnects(
    start: Start, join: Join
) -> None:
    relay = await start()
    write_key = await create_room(url(relay), "camp", None, None)
    ada = await join(relay, "camp", "ada", write_key)
    bob = await join(relay, "camp", "bob", write_key)
    guest = await join(relay, "camp", "guest", read_key_for(write_key))
    assert ada.rotate_keys()
    await until(lambda: ada.key != write_key and guest.key != read_key_for(write_key))
    assert bob.key == ada.key and guest.key == read_key_for(ada.key or "")
    for old in (write_key, read_key_for(write_key)):
        with pytest.raises(SessionClosed, match="bad_key"):
            await join(relay, "camp", "late", old)
    assert ada.remove_member(bob.member or "")
    await until(lambda: bob.status == "closed")
    assert bob.fatal_code == "removed" and "ada removed you" in (bob.fatal_reason or "")
    await until(lambda: bob.member not in ada.members)
    await asyncio.sleep(0.3)
    assert bob.status == "closed" and bob.reconnects == 0  # removed means gone, not retry
    assert guest.status == "connected" and guest.role == "read"


async def test_guessing_is_slowed_then_locked_out_per_address(start: Start, join: Join) -> None:
    brakes = Brakes(first_delay=0.05, max_delay=0.2, max_failures=4, lockout=60)
    relay = await start(gate=GateLimits(brakes=brakes))
    key = await create_room(url(relay), "camp", None, None)
    ada = await join(relay, "camp", "ada", key)
    file = ada.files[0].file
    await ada.open(file)

    async def attempt(guess: str, source: str) -> dict[str, object]:
        async with connect(url(relay), local_addr=(source, 0)) as connection:
            join_frame = p.Join(
                protocol=1, room="camp", name="eve", client_id="eve-client-0123456789", key=guess
            )
            await connection.send(p.encode(join_frame), text=True)
            reply = p.decode_server(await connection.recv())
            assert isinstance(reply, (p.Error, p.Welcome))
            return {"type": type(reply).__name__, "code": getattr(reply, "code", None)}

    loop = asyncio.get_running_loop()
    began = loop.time()
    for number in range(4):
        assert (await attempt(f"guess-{number:02d}-0123456789", "127.0.0.2"))["code"] == "bad_key"
        ada.replace(file, 0, 0, "x")  # the room carries on while someone guesses
    assert loop.time() - began >= 0.05 + 0.1 + 0.2  # each failure answered later than the last
    locked = await attempt(key, "127.0.0.2")  # even the right key, while locked out
    assert locked["code"] == "rate_limited"
    assert (await attempt(key, "127.0.0.3"))["type"] == "Welcome"  # another address is fine
    await ada.wait_synced()
    assert ada.syncs[file].text == "xxxx" and ada.reconnects == 0
    other_room = await join(relay, "elsewhere", "cy")
    assert other_room.status == "connected"


async def test_connection_limits_per_address_and_origins(start: Start) -> None:
    relay = await start(
        gate=GateLimits(max_per_address=2, exempt_loopback=False),
        origins=("https://camp.example.org",),
    )
    first = await connect(url(relay))
    second = await connect(url(relay))
    with pytest.raises(Exception, match="429"):
        await connect(url(relay))
    await first.close()
    await until(lambda: relay.gate.open.get("127.0.0.1", 0) == 1)
    third = await connect(url(relay))  # a slot is free again
    await second.close()
    await third.close()
    with pytest.raises(Exception, match="403"):
        await connect(url(relay), origin="https://evil.example")  # type: ignore[arg-type]
    allowed = await connect(url(relay), origin="https://camp.example.org")  # type: ignore[arg-type]
    await allowed.close()


async def test_connection_rate_per_address(start: Start) -> None:
    from server.limits import RateLimit

    relay = await start(
        gate=GateLimits(
            connect_rate=RateLimit(rate=0.1, burst=3, flood=10**6), exempt_loopback=False
        )
    )
    for _ in range(3):
        connection = await connect(url(relay))
        await connection.close()
    with pytest.raises(Exception, match="429"):
        await connect(url(relay))
    async with connect(url(relay), local_addr=("127.0.0.4", 0)) as other:
        assert other.state.name == "OPEN"


async def test_removed_member_cannot_send_more(start: Start, join: Join) -> None:
    relay = await start()
    ada = await join(relay, "demo", "ada")
    bob = await join(relay, "demo", "bob")
    connection = bob._connection
    assert connection is not None
    ada.remove_member(bob.member or "")

    async def keep_sending() -> None:
        for _ in range(100):
            await connection.send(p.encode(p.SendChat(text="still here?")))
            await asyncio.sleep(0.02)

    with pytest.raises(ConnectionClosed):
        await keep_sending()
    await asyncio.sleep(0.1)
    assert all(m.text != "still here?" for m in ada.chat)
