"""Survival scenarios: what took the original site down, each ending with every typed marker
in the final text exactly once. Seeded (``PAIRTUI_SEED``); the seed is printed."""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from pairtui.client import Backoff, ClientSession, ErrorReceived
from server.relay import Relay, RelayConfig
from server.store.sqlite import SQLiteStore
from tests.chaos import ChaosProxy
from tests.markers import Typist, assert_each_once, settle
from tests.server.redis_server import RedisServer
from tests.server.relay_process import RelayProcess, free_port


@pytest.fixture
def seed() -> int:
    chosen = int(os.environ.get("PAIRTUI_SEED", random.randrange(2**32)))
    print(f"seed {chosen} (PAIRTUI_SEED={chosen} repeats this run)")
    return chosen


@pytest.fixture
def relay_process(tmp_path: Path) -> Iterator[RelayProcess]:
    relay = RelayProcess(tmp_path / "relay", free_port())
    relay.start()
    yield relay
    relay.stop()


async def typists_through(
    proxies: list[ChaosProxy], room: str, rng: random.Random, **options: object
) -> list[Typist]:
    people = []
    for proxy, name in zip(proxies, ("ada", "bob"), strict=False):
        session = ClientSession(
            proxy.url, room, name, backoff=Backoff(0.05, 0.5), seed=rng.randrange(2**32), **options
        )  # type: ignore[arg-type]
        await session.start()
        file = session.files[0].file
        await session.open(file)
        people.append(Typist(session, file, random.Random(rng.randrange(2**32))))
    return people


@pytest.fixture
async def proxies(relay_process: RelayProcess, seed: int) -> AsyncIterator[list[ChaosProxy]]:
    made = [
        ChaosProxy(relay_process.port, seed=seed + n, latency=0.005, jitter=0.02) for n in range(2)
    ]
    for proxy in made:
        await proxy.start()
    yield made
    for proxy in made:
        await proxy.close()


async def close_all(typists: list[Typist]) -> None:
    for typist in typists:
        await typist.session.close()


async def test_relay_killed_every_few_seconds_while_two_type(
    relay_process: RelayProcess, proxies: list[ChaosProxy], seed: int
) -> None:
    rng = random.Random(seed)
    people = await typists_through(proxies, "killed", rng)
    for _ in range(4):
        await asyncio.gather(*(p.type_for(rng.randint(10, 30)) for p in people))
        relay_process.kill()  # SIGKILL: nothing flushed, nothing said
        await asyncio.gather(*(p.type_for(5) for p in people))  # typing on, offline
        await asyncio.to_thread(relay_process.start)
    await asyncio.gather(*(p.type_for(10) for p in people))
    text = await settle(people, seed)
    assert_each_once(text, people, seed)
    assert all(p.session.reconnects >= 4 for p in people)
    fresh = ClientSession(relay_process.url, "killed", "fresh")
    await fresh.start()
    assert (await fresh.open(people[0].file)).text == text
    await fresh.close()
    await close_all(people)


async def test_a_partner_offline_for_ten_minutes_of_typing_comes_back(
    relay_process: RelayProcess, proxies: list[ChaosProxy], seed: int
) -> None:
    rng = random.Random(seed)
    ada, bob = await typists_through(proxies, "offline", rng, open_timeout=1.0)
    await asyncio.gather(ada.type_for(10), bob.type_for(10))
    bob_network = proxies[1]
    bob_network.partition()  # the host's network is gone: nothing answers, nothing fails fast
    bob_network.cut()
    for _ in range(200):
        if bob.session.status != "connected":
            break
        await asyncio.sleep(0.01)
    assert bob.session.status != "connected"
    # Ten minutes of both typing a keystroke a second, made fast.
    await asyncio.gather(ada.type_for(600, pause=0.0005), bob.type_for(600, pause=0.0005))
    assert bob.session.pending  # kept, waiting
    assert bob.session.status != "connected"
    bob_network.heal()
    text = await settle([ada, bob], seed, timeout=40)
    assert_each_once(text, [ada, bob], seed)
    await close_all([ada, bob])


async def test_relay_restarted_during_a_backup(
    relay_process: RelayProcess, tmp_path: Path, seed: int
) -> None:
    rng = random.Random(seed)
    rooms = []
    for number in range(40):  # enough rooms and text that the backup takes a moment
        session = ClientSession(relay_process.url, f"camp{number}", "ada")
        await session.start()
        file = session.files[0].file
        await session.open(file)
        typist = Typist(session, file, random.Random(rng.randrange(2**32)))
        await typist.type_for(20, pause=0)
        session.replace(file, 0, 0, "# " + " ".join(str(rng.random()) for _ in range(6000)) + "\n")
        await session.wait_synced()
        rooms.append(typist)
    backup = tmp_path / "rooms.pairtui.gz"
    command = [sys.executable, "-m", "pairtui.cli", "backup", str(backup), "--data-dir",
               str(relay_process.data_dir)]  # fmt: skip
    running = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    partial = backup.with_name(backup.name + ".partial")
    for _ in range(1000):  # the backup has begun writing
        if partial.exists() or running.poll() is not None:
            break
        await asyncio.sleep(0.005)
    assert partial.exists() and not backup.exists(), "the backup was not caught mid-way"
    relay_process.kill()
    await asyncio.to_thread(relay_process.start)
    for typist in rooms[:10]:  # and people carry on typing after the restart
        await typist.type_for(5)
    _, stderr = await asyncio.to_thread(running.communicate, timeout=60)
    for typist in rooms:
        text = await settle([typist], seed)
        assert_each_once(text, [typist], seed)
    if running.returncode == 0:  # the backup finished: it holds every room as it was
        scratch = tmp_path / "restored"
        restore = [sys.executable, "-m", "pairtui.cli", "restore", str(backup), "--data-dir",
                   str(scratch)]  # fmt: skip
        assert subprocess.run(restore, capture_output=True, timeout=60, check=False).returncode == 0
        store = await SQLiteStore.open(scratch)
        for number, typist in enumerate(rooms):
            record = await store.load_room(f"camp{number}", history=0)
            assert record is not None
            for marker in typist.typed[:20]:  # typed and stored before the backup began
                assert record.files[0].text.count(marker) == 1, f"seed {seed}: {marker}"
        await store.close()
    else:  # it failed: clearly, and without leaving a file that looks complete
        assert stderr, "a failed backup says why"
        assert not backup.exists()
    for typist in rooms:
        await typist.session.close()


async def test_a_full_disk_refuses_edits_keeps_them_and_recovers(tmp_path: Path, seed: int) -> None:
    store = await SQLiteStore.open(tmp_path / "relay")
    relay = Relay(store, RelayConfig(port=0))
    await relay.start()
    rng = random.Random(seed)
    url = f"ws://127.0.0.1:{relay.port}/"
    people = []
    for name in ("ada", "bob"):
        session = ClientSession(url, "full", name, backoff=Backoff(0.05, 0.2))
        await session.start()
        file = session.files[0].file
        await session.open(file)
        people.append(Typist(session, file, random.Random(rng.randrange(2**32))))
    refused: list[str] = []
    people[0].session.subscribe(
        lambda e: refused.append(e.code) if isinstance(e, ErrorReceived) else None
    )
    await asyncio.gather(*(p.type_for(20) for p in people))
    await settle(people, seed)
    await store.cap_size(0)  # the disk is full from here on
    people[0].session.replace(people[0].file, 0, 0, "x" * 100_000 + "\n")
    await asyncio.gather(*(p.type_for(20) for p in people))
    for _ in range(300):
        if "storage_unavailable" in refused:
            break
        await asyncio.sleep(0.01)
    assert "storage_unavailable" in refused  # said clearly
    assert any(p.session.pending for p in people)  # and kept, not dropped
    await store.cap_size(None)  # space is back
    text = await settle(people, seed)
    assert_each_once(text, people, seed)
    record = await store.load_room("full", history=0)
    assert record is not None and record.files[0].text == text
    await close_all(people)
    await relay.shutdown()
    await store.close()


async def test_redis_restarted_under_two_relay_processes(tmp_path: Path, seed: int) -> None:
    redis = RedisServer(tmp_path / "redis", appendonly=True)
    redis.start()
    port = free_port()
    relays = [
        RelayProcess(tmp_path / f"relay{n}", port, ("--redis", redis.url, "--reuse-port"))
        for n in range(2)
    ]
    for relay in relays:
        relay.start()
    try:
        rng = random.Random(seed)
        people = []
        for name in ("ada", "bob"):
            session = ClientSession(relays[0].url, "redis", name, backoff=Backoff(0.1, 0.5))
            await session.start()
            file = session.files[0].file
            await session.open(file)
            people.append(Typist(session, file, random.Random(rng.randrange(2**32))))
        await asyncio.gather(*(p.type_for(30) for p in people))
        redis.kill()  # SIGKILL; its AOF (appendfsync always) holds every acknowledged edit
        await asyncio.gather(*(p.type_for(10) for p in people))
        await asyncio.sleep(1.0)
        await asyncio.to_thread(redis.start)  # same port, same folder: the AOF is replayed
        await asyncio.gather(*(p.type_for(10) for p in people))
        text = await settle(people, seed, timeout=45)
        assert_each_once(text, people, seed)
        assert sum(p.session.reconnects for p in people) >= 1  # the outage was felt
        await close_all(people)
    finally:
        for relay in relays:
            relay.stop()
        redis.stop()
