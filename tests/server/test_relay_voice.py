"""The voice call's roster and signalling through a real relay: signals stay inside the call."""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from pairtui.access import create_room
from pairtui.core import protocol as p
from pairtui.core.keys import read_key_for
from server.relay import Relay, RelayConfig
from server.room import RoomLimits
from server.serve import ConfigError, add_arguments, ice_servers
from server.store.sqlite import SQLiteStore
from tests.server.conftest import relay_url
from tests.server.raw import RawPeer

OFFER = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 96\r\n"
STUN = p.IceServer(urls=["stun:stun.example.org:3478"])

Join = Callable[..., Awaitable[tuple[RawPeer, dict[str, Any]]]]


@pytest.fixture
async def voice_relay(tmp_path: Path) -> AsyncIterator[Relay]:
    store = await SQLiteStore.open(tmp_path / "relay")
    config = RelayConfig(port=0, room_linger=0.5, room_limits=RoomLimits(ice_servers=(STUN,)))
    relay = Relay(store, config)
    await relay.start()
    yield relay
    await relay.shutdown()
    await store.close()


@pytest.fixture
async def join(voice_relay: Relay) -> AsyncIterator[Join]:
    peers: list[RawPeer] = []

    async def make(room: str = "demo", **fields: Any) -> tuple[RawPeer, dict[str, Any]]:
        client_id = f"voice-client-{len(peers):08d}"
        peer, welcome = await RawPeer.join(relay_url(voice_relay), room, client_id, **fields)
        peers.append(peer)
        return peer, welcome

    yield make
    for peer in peers:
        await peer.close()


async def in_call(peer: RawPeer, muted: bool = False) -> dict[str, Any]:
    await peer.send({"type": "voice_join", "muted": muted})
    return await peer.expect("voice_welcome")


async def drain(peer: RawPeer) -> list[dict[str, Any]]:
    """Everything ``peer`` is sent until the line has been quiet for a moment."""
    received = []
    while True:
        try:
            received.append(await peer.receive(timeout=0.5))
        except TimeoutError:
            return received


async def expect_presence(peer: RawPeer, member: str) -> dict[str, Any]:
    while True:
        message = await peer.expect("presence")
        if message["member"]["member"] == member:
            return message["member"]  # type: ignore[no-any-return]


async def test_newcomer_offers_to_those_already_in_the_call_and_signals_reach_only_them(
    join: Join,
) -> None:
    ada, ada_welcome = await join()
    bob, bob_welcome = await join()
    ada_id, bob_id = ada_welcome["member"], bob_welcome["member"]

    first = await in_call(ada)
    assert first["peers"] == []
    assert first["ice_servers"] == [{"urls": ["stun:stun.example.org:3478"]}]
    assert (await expect_presence(bob, ada_id))["voice"] == "on"

    second = await in_call(bob, muted=True)
    assert second["peers"] == [ada_id]  # bob offers; ada waits: nobody offers twice
    assert (await expect_presence(ada, bob_id))["voice"] == "muted"

    await bob.send({"type": "signal", "to": ada_id, "kind": "offer", "sdp": OFFER})
    relayed = await ada.expect("signal")
    assert relayed == {"type": "signal", "member": bob_id, "kind": "offer", "sdp": OFFER}
    candidate = "candidate:1 1 udp 2130706431 192.0.2.7 50000 typ host"
    await ada.send(
        {"type": "signal", "to": bob_id, "kind": "ice", "candidate": candidate, "mid": "0"}
    )
    assert (await bob.expect("signal"))["candidate"] == candidate

    await bob.send({"type": "voice_mute", "muted": False})
    assert (await expect_presence(ada, bob_id))["voice"] == "on"
    await bob.send({"type": "voice_leave"})
    assert "voice" not in await expect_presence(ada, bob_id)
    await ada.send({"type": "signal", "to": bob_id, "kind": "offer", "sdp": OFFER})
    assert (await ada.expect("error"))["code"] == "not_in_voice"


async def test_signals_to_or_from_anyone_outside_the_call_are_refused(join: Join) -> None:
    ada, ada_welcome = await join()
    bob, bob_welcome = await join()
    stranger, stranger_welcome = await join(room="elsewhere")
    ada_id, bob_id = ada_welcome["member"], bob_welcome["member"]
    await in_call(ada)
    await in_call(stranger)

    # From a member of the room who has not joined the call.
    await bob.send({"type": "signal", "to": ada_id, "kind": "offer", "sdp": OFFER})
    assert (await bob.expect("error"))["code"] == "not_in_voice"
    # To a member of the room who is not in the call.
    await ada.send({"type": "signal", "to": bob_id, "kind": "offer", "sdp": OFFER})
    assert (await ada.expect("error"))["code"] == "not_in_voice"
    # Across rooms, both ways: the other room's ids do not exist here.
    await stranger.send({"type": "signal", "to": ada_id, "kind": "offer", "sdp": OFFER})
    assert (await stranger.expect("error"))["code"] == "unknown_member"
    await ada.send(
        {"type": "signal", "to": stranger_welcome["member"], "kind": "offer", "sdp": OFFER}
    )
    assert (await ada.expect("error"))["code"] == "unknown_member"
    await ada.send({"type": "signal", "to": ada_id, "kind": "offer", "sdp": OFFER})
    assert (await ada.expect("error"))["code"] == "unknown_member"
    # None of it reached anyone: the next thing bob and the stranger hear is this chat.
    await ada.send({"type": "chat", "text": "still here"})
    assert (await bob.expect("chat"))["message"]["text"] == "still here"


async def test_a_connection_that_has_not_joined_a_room_cannot_signal(voice_relay: Relay) -> None:
    from websockets.asyncio.client import connect

    async with connect(relay_url(voice_relay)) as connection:
        peer = RawPeer(connection)
        await peer.send({"type": "signal", "to": "m1", "kind": "offer", "sdp": OFFER})
        assert (await peer.expect("error"))["code"] == "not_joined"


async def test_malformed_signals_get_stable_codes_and_change_nothing(join: Join) -> None:
    ada, _ = await join()
    bob, bob_welcome = await join()
    await in_call(ada)
    await in_call(bob)
    bob_id = bob_welcome["member"]
    cases: list[tuple[dict[str, Any], str]] = [
        ({"type": "signal", "to": bob_id, "kind": "offer"}, "bad_field"),
        ({"type": "signal", "to": bob_id, "kind": "ice", "sdp": OFFER}, "bad_field"),
        ({"type": "signal", "to": bob_id, "kind": "hello", "sdp": OFFER}, "bad_field"),
        ({"type": "signal", "to": bob_id, "kind": "offer", "sdp": "x" * 20_001}, "field_too_large"),
        ({"type": "signal", "kind": "offer", "sdp": OFFER}, "missing_field"),
        ({"type": "voice_mute", "muted": "yes"}, "bad_field"),
    ]
    for frame, code in cases:
        await ada.send(frame)
        error = await ada.expect("error")
        assert error["code"] == code, (frame, error)
    await ada.send({"type": "signal", "to": bob_id, "kind": "answer", "sdp": OFFER})
    assert (await bob.expect("signal"))["kind"] == "answer"


async def test_a_flood_of_signals_is_slowed_not_passed_on(join: Join) -> None:
    ada, _ = await join()
    bob, bob_welcome = await join()
    await in_call(ada)
    await in_call(bob)
    candidate = {"type": "signal", "to": bob_welcome["member"], "kind": "ice", "candidate": ""}
    for _ in range(80):
        await ada.send(candidate)
    codes = [m["code"] for m in await drain(ada) if m["type"] == "error"]
    assert codes and set(codes) == {"rate_limited"}
    passed = sum(m["type"] == "signal" for m in await drain(bob))
    assert passed == 80 - len(codes)
    assert passed <= 62  # the burst, plus what trickled back in while sending


async def test_the_call_holds_at_most_four_and_a_leaver_frees_a_place(join: Join) -> None:
    peers = [await join() for _ in range(5)]
    for peer, _ in peers[:4]:
        await in_call(peer)
    fifth = peers[4][0]
    await fifth.send({"type": "voice_join"})
    assert (await fifth.expect("error"))["code"] == "voice_full"
    await peers[0][0].close()  # leaving the room leaves the call
    welcome = await in_call(fifth)
    assert sorted(welcome["peers"]) == sorted(w["member"] for _, w in peers[1:4])


async def test_read_only_guests_watch_but_do_not_join_the_call(
    voice_relay: Relay, join: Join
) -> None:
    write_key = await create_room(relay_url(voice_relay), "locked", None, None)
    writer, _ = await join(room="locked", key=write_key)
    guest, guest_welcome = await join(room="locked", key=read_key_for(write_key))
    assert guest_welcome["role"] == "read"
    await guest.send({"type": "voice_join"})
    assert (await guest.expect("error"))["code"] == "read_only"
    await in_call(writer)


def test_serve_flags_become_the_ice_servers_members_are_given(tmp_path: Path) -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    password = tmp_path / "turn-password"
    password.write_text("s3cret\n")
    args = parser.parse_args(
        [
            "--stun",
            "stun:stun.example.org:3478",
            "--turn",
            "turn:turn.example.org:3478?transport=udp",
            "--turn-user",
            "camp",
            "--turn-password-file",
            str(password),
        ]
    )
    assert ice_servers(args) == (
        STUN,
        p.IceServer(
            urls=["turn:turn.example.org:3478?transport=udp"], username="camp", credential="s3cret"
        ),
    )
    with pytest.raises(ConfigError, match="--turn-user"):
        ice_servers(parser.parse_args(["--turn", "turn:t.example.org"]))
    with pytest.raises(ConfigError, match="stun:"):
        ice_servers(parser.parse_args(["--stun", "t.example.org"]))
