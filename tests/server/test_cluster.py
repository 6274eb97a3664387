"""Two relay processes on one Redis and one port: a room's members on different processes
converge, and when one process is killed its clients move to the other and lose nothing."""

from __future__ import annotations

import asyncio
import os
import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from pairtui.client import Backoff, ClientSession
from tests.server.redis_server import RedisServer
from tests.server.relay_process import RelayProcess, free_port


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[RedisServer, list[RelayProcess]]]:
    redis = RedisServer(tmp_path / "redis")
    redis.start()
    port = free_port()
    relays = [
        RelayProcess(tmp_path / f"relay{n}", port, ("--redis", redis.url, "--reuse-port"))
        for n in range(2)
    ]
    for relay in relays:
        relay.start()
    yield redis, relays
    for relay in relays:
        relay.stop()
    redis.stop()


async def on_each_process(url: str, room: str, relays: list[RelayProcess]) -> list[ClientSession]:
    """One session served by each relay process (the kernel picks; we ask until it fits)."""
    wanted = {relay.cluster_process: None for relay in relays}
    spare: list[ClientSession] = []
    for attempt in range(60):
        session = ClientSession(url, room, f"p{attempt}", backoff=Backoff(0.05, 0.3))
        await session.start()
        process = (session.member or "").removeprefix("m").split("x")[0]
        if wanted.get(process, "taken") is None:
            wanted[process] = session  # type: ignore[assignment]
        else:
            spare.append(session)
        if all(wanted.values()):
            break
    for session in spare:
        await session.close()
    sessions = list(wanted.values())
    assert all(sessions), "the kernel never spread connections over both processes"
    return sessions  # type: ignore[return-value]


def between_markers(text: str, rng: random.Random) -> int:
    """A place to type that splits no marker (OT keeps each insert whole)."""
    return rng.choice([0, *(i + 1 for i, char in enumerate(text) if char == ">")])


async def type_markers(session: ClientSession, file: str, label: str, count: int) -> None:
    rng = random.Random(label)
    for number in range(count):
        text = session.syncs[file].text
        session.replace(file, between_markers(text, rng), 0, f"<{label}{number}>")
        await asyncio.sleep(0.01)


async def test_members_on_two_processes_converge(
    cluster: tuple[RedisServer, list[RelayProcess]],
) -> None:
    _, relays = cluster
    ada, bob = await on_each_process(relays[0].url, "shared", relays)
    file = ada.files[0].file
    await ada.open(file)
    await bob.open(file)
    await asyncio.gather(type_markers(ada, file, "a", 40), type_markers(bob, file, "b", 40))
    await ada.wait_synced()
    await bob.wait_synced()
    for _ in range(300):
        if ada.syncs[file].text == bob.syncs[file].text:
            break
        await asyncio.sleep(0.01)
    text = ada.syncs[file].text
    assert text == bob.syncs[file].text
    for label in "ab":
        for number in range(40):
            assert text.count(f"<{label}{number}>") == 1
    assert bob.member in ada.members and ada.member in bob.members  # presence crosses too
    ada.send_chat("across processes")
    for _ in range(300):
        if bob.chat and bob.chat[-1].text == "across processes":
            break
        await asyncio.sleep(0.01)
    assert bob.chat[-1].text == "across processes"
    await ada.close()
    await bob.close()


async def test_a_killed_process_loses_no_acknowledged_edit(
    cluster: tuple[RedisServer, list[RelayProcess]],
) -> None:
    seed = int(os.environ.get("PAIRTUI_SEED", random.randrange(2**32)))
    print(f"seed {seed}")
    _, relays = cluster
    people = await on_each_process(relays[0].url, "survive", relays)
    file = people[0].files[0].file
    for person in people:
        await person.open(file)
    rng = random.Random(seed)
    victim = next(r for r in relays if people[0].member and r.cluster_process in people[0].member)
    for round_ in range(120):
        for person in people:
            text = person.syncs[file].text
            marker = f"<{person.name}-{round_}>"
            person.replace(file, between_markers(text, rng), 0, marker)
        if round_ == 40:
            victim.kill()  # SIGKILL while both type
        await asyncio.sleep(0.02)
    for person in people:
        await person.wait_synced(timeout=30)
    for _ in range(500):
        if len({p.syncs[file].text for p in people}) == 1:
            break
        await asyncio.sleep(0.02)
    texts = {p.syncs[file].text for p in people}
    assert len(texts) == 1, f"seed {seed}: the two did not converge"
    [text] = texts
    for person in people:
        for round_ in range(120):
            marker = f"<{person.name}-{round_}>"
            assert text.count(marker) == 1, f"seed {seed}: {marker} x{text.count(marker)}"
    assert people[0].reconnects >= 1  # it really lost its process and moved
    fresh = ClientSession(relays[0].url, "survive", "fresh")
    await fresh.start()
    assert (await fresh.open(file)).text == text  # and Redis holds exactly that
    await fresh.close()
    for person in people:
        await person.close()


async def test_keys_hold_on_every_process(cluster: tuple[RedisServer, list[RelayProcess]]) -> None:
    from pairtui.access import create_room
    from pairtui.client import SessionClosed
    from pairtui.core.keys import read_key_for

    _, relays = cluster
    url = relays[0].url
    key = await create_room(url, "locked", None, None)
    people = []
    for attempt in range(16):  # writers and readers, on whichever processes they land
        session = ClientSession(
            url, "locked", f"p{attempt}", key=key if attempt % 2 else read_key_for(key)
        )
        await session.start()
        people.append(session)
    roles = {p.role for p in people}
    assert roles == {"write", "read"}
    processes = {(p.member or "").removeprefix("m").split("x")[0] for p in people}
    assert len(processes) == 2  # both processes admitted people to the one room
    for _ in range(4):  # wrong keys are refused wherever they land (each answer slowed)
        with pytest.raises(SessionClosed, match="bad_key"):
            await ClientSession(url, "locked", "eve", key="wrong-key-0123456789abc").start()
    writer = next(p for p in people if p.role == "write")
    assert writer.rotate_keys()
    for _ in range(300):
        if all(p.key not in (key, read_key_for(key)) for p in people):
            break
        await asyncio.sleep(0.01)
    assert all(p.key not in (key, read_key_for(key)) for p in people)  # everyone got new keys
    for _ in range(3):  # the old key is refused, the new one works, wherever they land
        with pytest.raises(SessionClosed, match="bad_key"):
            await ClientSession(url, "locked", "late", key=key).start()
        fresh = ClientSession(url, "locked", "fresh", key=writer.key)
        await fresh.start()
        assert fresh.role == "write"
        await fresh.close()
    for person in people:
        await person.close()


async def test_a_voice_call_between_members_on_two_processes(
    cluster: tuple[RedisServer, list[RelayProcess]],
) -> None:
    """Signalling crosses processes like chat does; the audio then goes straight between them."""
    from pairtui.voice.call import VoiceCall
    from pairtui.voice.wav import FileDevices
    from tests.voice.tones import dominant_frequency, tone

    _, relays = cluster
    ada, bob = await on_each_process(relays[0].url, "call", relays)
    devices = {440.0: FileDevices(tone(440.0, 1.0)), 660.0: FileDevices(tone(660.0, 1.0))}
    calls = [VoiceCall(ada, devices[440.0]), VoiceCall(bob, devices[660.0])]
    try:
        for call in calls:
            assert await call.join()
        heard_by_ada = devices[440.0].recorder
        for _ in range(300):
            if heard_by_ada.recording(bob.member or "").size > 48_000:
                break
            await asyncio.sleep(0.05)
        received = heard_by_ada.recording(bob.member or "")
        assert received.size > 48_000, "no audio from the other process's member"
        assert abs(dominant_frequency(received[9_600:]) - 660.0) < 5.0
    finally:
        for call in calls:
            await call.close()
        await ada.close()
        await bob.close()
