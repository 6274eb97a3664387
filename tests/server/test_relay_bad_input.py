"""Hostile and malformed input: each answered with its code; rooms and others unaffected."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed

from server.relay import Relay
from tests.server.conftest import SessionFactory, relay_url
from tests.server.raw import RawPeer, op_frame

F = "FILE"  # replaced by the room's real file id


def cases(file: str) -> list[tuple[str, Any, str]]:
    big_path = "p" * 300
    return [
        ("binary frame", b"\x00\x01binary", "bad_frame"),
        ("not json", "hello there", "bad_json"),
        ("truncated json", '{"type": "op"', "bad_json"),
        ("json array", "[1, 2, 3]", "bad_json"),
        ("json string", '"op"', "bad_json"),
        ("no type", {"file": file}, "missing_field"),
        ("unknown type", {"type": "drop_tables"}, "unknown_type"),
        ("relay-only type", {"type": "ack", "file": file, "seq": 1, "revision": 1}, "unknown_type"),
        (
            "second join",
            {
                "type": "join",
                "protocol": 1,
                "room": "demo",
                "name": "x",
                "client_id": "raw-client-0123456789",
            },
            "already_joined",
        ),
        (
            "op missing seq",
            {"type": "op", "file": file, "revision": 0, "op": ["x"]},
            "missing_field",
        ),
        ("op revision string", {**op_frame(file, 0, 1, ["x"]), "revision": "0"}, "bad_field"),
        ("op negative revision", {**op_frame(file, 0, 1, ["x"]), "revision": -3}, "bad_field"),
        ("op seq zero", {**op_frame(file, 0, 1, ["x"]), "seq": 0}, "bad_field"),
        ("op not a list", {**op_frame(file, 0, 1, ["x"]), "op": "x"}, "bad_field"),
        ("op with float", {**op_frame(file, 0, 1, ["x"]), "op": [1.5]}, "bad_field"),
        ("op with zero", op_frame(file, 0, 1, [0]), "bad_op"),
        ("op with empty insert", {**op_frame(file, 0, 1, ["x"]), "op": [""]}, "bad_op"),
        ("op with carriage return", op_frame(file, 0, 1, ["a\r\n"]), "bad_op"),
        ("op too long for the file", op_frame(file, 0, 1, [50, "x"]), "op_mismatch"),
        ("op from the future", op_frame(file, 99, 1, ["x"]), "future_revision"),
        ("op for unknown file", op_frame("nosuchfile", 0, 1, ["x"]), "unknown_file"),
        ("op for a file not opened", op_frame(file, 0, 1, ["x"]), "not_open"),
        ("open unknown file", {"type": "open", "file": "nosuchfile"}, "unknown_file"),
        ("open with bad id", {"type": "open", "file": "../etc"}, "bad_field"),
        ("create with dotdot", {"type": "file_create", "path": "../escape.py"}, "bad_path"),
        ("create absolute", {"type": "file_create", "path": "/etc/passwd"}, "bad_path"),
        ("create backslash", {"type": "file_create", "path": "a\\b.py"}, "bad_path"),
        ("create existing", {"type": "file_create", "path": "main.py"}, "file_exists"),
        ("create huge path", {"type": "file_create", "path": big_path}, "field_too_large"),
        (
            "create with CR text",
            {"type": "file_create", "path": "w.py", "text": "a\r\n"},
            "bad_field",
        ),
        (
            "rename unknown",
            {"type": "file_rename", "file": "nosuchfile", "path": "x.py"},
            "unknown_file",
        ),
        (
            "rename onto dotdot",
            {"type": "file_rename", "file": file, "path": "a/../../b"},
            "bad_path",
        ),
        ("delete unknown", {"type": "file_delete", "file": "nosuchfile"}, "unknown_file"),
        (
            "presence unknown file",
            {"type": "presence", "file": "nosuchfile", "cursor": 1},
            "unknown_file",
        ),
        ("presence negative cursor", {"type": "presence", "cursor": -1}, "bad_field"),
        ("presence bad viewport", {"type": "presence", "viewport": [1]}, "bad_field"),
        ("chat empty", {"type": "chat", "text": ""}, "bad_field"),
        ("chat too long", {"type": "chat", "text": "x" * 9000}, "field_too_large"),
        ("chat not a string", {"type": "chat", "text": ["x"]}, "bad_field"),
        ("summon without a file", {"type": "summon"}, "not_open"),
        ("ping with string id", {"type": "ping", "id": "x"}, "bad_field"),
    ]


async def test_each_bad_message_gets_its_code_and_changes_nothing(
    relay: Relay, session: SessionFactory
) -> None:
    ada = await session("ada")
    file = ada.files[0].file
    await ada.open(file)
    ada.replace(file, 0, 0, "safe")
    await ada.wait_synced()
    peer, _ = await RawPeer.join(relay_url(relay))
    bad = cases(file)
    assert len(bad) >= 30
    await peer.send({"type": "open", "file": file})
    await peer.expect("snapshot")
    for name, frame, code in bad:
        if name == "op for a file not opened":
            continue  # checked below on a fresh connection
        await peer.send(frame)
        error = await peer.expect("error")
        assert error["code"] == code, f"{name}: {error}"
        assert error["message"]
    fresh, _ = await RawPeer.join(relay_url(relay), client_id="raw-client-fresh-0123")
    await fresh.send(op_frame(file, 0, 1, ["x"]))
    assert (await fresh.expect("error"))["code"] == "not_open"
    # The room is unchanged and the other member is unaffected and can still edit.
    await peer.send({"type": "open", "file": file})
    snapshot = await peer.expect("snapshot")
    assert (snapshot["text"], snapshot["revision"]) == ("safe", 1)
    assert [f.path for f in ada.files] == ["main.py"]
    assert ada.status == "connected" and ada.reconnects == 0
    ada.replace(file, 4, 0, "!")
    await ada.wait_synced()
    assert ada.syncs[file].text == "safe!"
    await peer.close()
    await fresh.close()


async def test_first_message_must_be_join(relay: Relay) -> None:
    from websockets.asyncio.client import connect

    async with connect(relay_url(relay)) as connection:
        await connection.send(json.dumps({"type": "ping", "id": 1}))
        error = json.loads(await connection.recv())
        assert error["code"] == "not_joined"
        with pytest.raises(ConnectionClosed):
            await connection.recv()


async def test_wrong_protocol_version_is_refused_clearly(relay: Relay) -> None:
    from websockets.asyncio.client import connect

    async with connect(relay_url(relay)) as connection:
        await connection.send(
            json.dumps(
                {"type": "join", "protocol": 99, "room": "demo", "name": "x", "client_id": "c" * 20}
            )
        )
        error = json.loads(await connection.recv())
        assert error["code"] == "unsupported_protocol"
        assert "upgrade" in error["message"]


async def test_oversized_frame_closes_only_that_connection(
    relay: Relay, session: SessionFactory
) -> None:
    ada = await session("ada")
    peer, _ = await RawPeer.join(relay_url(relay))
    await peer.send({"type": "chat", "text": "x" * (2 << 20)})
    with pytest.raises(ConnectionClosed) as closed:
        await peer.receive()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
    await asyncio.sleep(0.05)
    assert ada.status == "connected"
    ada.send_chat("still here")
    for _ in range(100):
        if ada.chat:
            break
        await asyncio.sleep(0.01)
    assert ada.chat[-1].text == "still here"


async def test_a_flood_is_slowed_then_closed_and_others_carry_on(
    relay: Relay, session: SessionFactory
) -> None:
    ada = await session("ada")
    peer, _ = await RawPeer.join(relay_url(relay))
    codes: set[str] = set()
    frame = json.dumps({"type": "ping", "id": 1})

    async def flood_and_listen() -> None:
        for _ in range(5_000):
            await peer.send(frame)
        while True:
            message = await peer.receive()
            if message["type"] == "error":
                codes.add(message["code"])

    with pytest.raises(ConnectionClosed) as closed:
        await flood_and_listen()
    assert "rate_limited" in codes
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
    ada.ping()
    for _ in range(100):
        if ada.rtt is not None:
            break
        await asyncio.sleep(0.01)
    assert ada.rtt is not None and ada.status == "connected"
