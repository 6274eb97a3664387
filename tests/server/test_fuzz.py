"""Fuzzing: random and mutated frames, random sequences from several members.

The decoder only ever returns a message or raises ``ProtocolError``. The room
never raises, read-only members never cause a write, and what the room stores
(replayed into the reference in-memory store) always equals what it holds.
A seeded run against a real relay checks the same over sockets. For longer
runs outside CI: ``python tests/fuzz/atheris_protocol.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed

from pairtui.client import ClientSession
from pairtui.core import protocol as p
from server.relay import Relay
from server.room import Disconnect, Reply, Room, RoomLimits
from server.store.memory import MemoryStore
from tests.core.test_protocol import CLIENT_MESSAGES
from tests.server.conftest import relay_url
from tests.server.raw import RawPeer

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
VALID_FRAMES = [p.encode(message) for message in CLIENT_MESSAGES]
# Over sockets the witness's file must survive: deleting it is a valid write, not damage.
SOCKET_FRAMES = [
    p.encode(message) for message in CLIENT_MESSAGES if not isinstance(message, p.DeleteFile)
]


def decodes_or_refuses(frame: bytes) -> p.ClientMessage | None:
    """The decoder's whole contract: a message, or ``ProtocolError`` with a known code."""
    try:
        return p.decode_client(frame)
    except p.ProtocolError as error:
        if error.code not in set(p.ErrorCode):
            raise AssertionError(f"unknown code {error.code}") from None
        return None


@given(st.binary(max_size=300))
def test_random_bytes_decode_or_raise_protocol_error(frame: bytes) -> None:
    decodes_or_refuses(frame)


@given(st.sampled_from(VALID_FRAMES), st.data())
def test_mutated_messages_decode_or_raise_protocol_error(frame: bytes, data: st.DataObject) -> None:
    message: dict[str, Any] = json.loads(frame)
    for _ in range(data.draw(st.integers(1, 3))):
        field = data.draw(st.sampled_from([*message, "type", "extra"]))
        if data.draw(st.booleans()):
            message[field] = data.draw(json_values)
        else:
            message.pop(field, None)
    raw = json.dumps(message).encode()
    if data.draw(st.booleans()) and raw:
        position = data.draw(st.integers(0, len(raw) - 1))
        raw = raw[:position] + bytes([data.draw(st.integers(0, 255))]) + raw[position + 1 :]
    decoded = decodes_or_refuses(raw)
    if decoded is not None:
        assert p.decode_client(p.encode(decoded)) == decoded


MEMBERS = ("w1", "w2", "r1")


def _messages(files: list[str]) -> st.SearchStrategy[p.ClientMessage]:
    file = st.sampled_from([*files, "fnope"])
    index = st.integers(0, 40)
    component = st.one_of(
        st.integers(1, 12), st.integers(-12, -1), st.text("ab\n😀", min_size=1, max_size=5)
    )
    return st.one_of(
        st.builds(
            lambda f, r, s, o: p.Op(file=f, revision=r, seq=s, op=o),
            file,
            st.integers(0, 30),
            st.integers(1, 30),
            st.lists(component, min_size=1, max_size=5),
        ),
        st.builds(lambda f, s: p.Open(file=f, since=s), file, st.none() | st.integers(0, 30)),
        st.builds(
            lambda f, c, a: p.SetPresence(file=f, cursor=c, anchor=a),
            st.none() | file,
            st.none() | index,
            st.none() | index,
        ),
        st.builds(lambda t: p.SendChat(text=t), st.text(min_size=1, max_size=10)),
        st.builds(
            lambda path, t: p.CreateFile(path=path, text=t),
            st.sampled_from(["a.py", "b/c.py", "../x", "/abs", "a.py"]),
            st.text("xy\n", max_size=6),
        ),
        st.builds(
            lambda f, path: p.RenameFile(file=f, path=path),
            file,
            st.sampled_from(["r.py", "main.py", ".."]),
        ),
        st.builds(lambda f: p.DeleteFile(file=f), file),
        st.just(p.Summon()),
        st.just(p.RotateKeys()),
        st.builds(lambda m: p.RemoveMember(member=m), st.sampled_from([*MEMBERS, "zz"])),
        st.builds(lambda i: p.Ping(id=i), st.integers(0, 5)),
        st.builds(lambda m: p.VoiceJoin(muted=m), st.booleans()),
        st.just(p.VoiceLeave()),
        st.builds(lambda m: p.VoiceMute(muted=m), st.booleans()),
        st.builds(
            lambda to, kind, sdp, candidate: p.Signal(
                to=to, kind=kind, sdp=sdp, candidate=candidate
            ),
            st.sampled_from([*MEMBERS, "zz"]),
            st.sampled_from(["offer", "answer", "ice"]),
            st.none() | st.just("v=0"),
            st.none() | st.just(""),
        ),
    )


def join_again(room: Room, member: str) -> None:
    join = p.Join(protocol=1, room="fuzz", name=member, client_id=f"client-{member}-000000000")
    room.join(member, join, "read" if member.startswith("r") else "write")


@settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.data())
async def test_random_sequences_keep_every_room_consistent(data: st.DataObject) -> None:
    store = MemoryStore()
    room, created = Room.create("fuzz", 0.0, RoomLimits(max_files=4, max_document_length=60))
    await store.commit(created.writes)
    for member in MEMBERS:
        join_again(room, member)
    for _ in range(data.draw(st.integers(1, 40))):
        member = data.draw(st.sampled_from(MEMBERS))
        message = data.draw(_messages(list(room.files)))
        effects = room.handle(member, message, 1.0)  # must never raise
        if member.startswith("r"):
            assert effects.writes == [], message
        await store.commit(effects.writes)  # the store accepts exactly what the room did
        for outgoing in effects.messages:
            if not isinstance(outgoing, Disconnect):
                p.encode(outgoing.message)  # everything the room says can be sent
            if isinstance(outgoing, Reply) and isinstance(outgoing.message, p.SignalRelayed):
                assert {outgoing.member, member} <= set(room.voice.members)  # inside the call
        assert set(room.voice.members) <= set(room.members)
        assert len(room.voice.members) <= p.MAX_VOICE_PEERS
        assert all(m.startswith("w") for m in room.voice.members)  # writers only
        if data.draw(st.integers(0, 9)) == 0 or member not in room.members:
            room.leave(member)  # a reconnect (or a return after being removed)
            join_again(room, member)
    record = await store.load_room("fuzz", history=1000)
    assert record is not None
    stored = {f.file: (f.path, f.text, f.revision) for f in record.files}
    held = {f.file: (f.path, f.document.text, f.document.revision) for f in room.files.values()}
    assert stored == held
    assert record.keys == room.keys
    for state in room.members.values():
        if state.file is not None and state.cursor is not None:
            assert state.cursor <= len(room.files[state.file].document.text)


async def test_random_frames_from_several_connections_never_hurt_the_relay(relay: Relay) -> None:
    seed = int(os.environ.get("PAIRTUI_FUZZ_SEED", random.randrange(2**32)))
    print(f"fuzz seed {seed} (PAIRTUI_FUZZ_SEED={seed} repeats this run)")
    rng = random.Random(seed)
    url = relay_url(relay)
    witness = ClientSession(url, "fuzz", "witness")
    await witness.start()
    file = witness.files[0].file
    await witness.open(file)
    peers = [
        (await RawPeer.join(url, "fuzz", client_id=f"fuzz-client-{n}-0123456789"))[0]
        for n in range(3)
    ]

    async def drain(peer: RawPeer) -> None:
        """Read what the relay sends, as a client must (an unread queue blocks its close)."""
        with contextlib.suppress(ConnectionClosed):
            async for _ in peer.connection:
                pass

    readers = [asyncio.create_task(drain(peer)) for peer in peers]
    for number in range(1000):
        frame = bytearray(rng.choice(SOCKET_FRAMES).replace(b'"f1"', f'"{file}"'.encode()))
        for _ in range(rng.randrange(4)):
            frame[rng.randrange(len(frame))] = rng.randrange(256)
        peer = rng.choice(peers)
        as_text = rng.random() < 0.8
        with contextlib.suppress(ConnectionClosed):  # the relay may close a misbehaving peer
            await peer.send(frame.decode("utf-8", "replace") if as_text else bytes(frame))
        if number % 100 == 0:
            witness.replace(file, 0, 0, f"<{number}>")
    await asyncio.sleep(0.2)
    await witness.wait_synced()
    text = witness.syncs[file].text
    for number in range(0, 1000, 100):
        assert f"<{number}>" in text  # every witness edit landed
    fresh = ClientSession(url, "fuzz", "fresh", key=witness.key)  # a peer may have rotated
    await fresh.start()
    fresh_sync = await fresh.open(file)
    for _ in range(200):  # a raw peer's valid edit may still be on its way to the witness
        if fresh_sync.text == witness.syncs[file].text:
            break
        await asyncio.sleep(0.01)
    assert fresh_sync.text == witness.syncs[file].text
    await fresh.close()
    await witness.close()
    for peer in peers:
        await peer.close()
    await asyncio.gather(*readers)
