"""A real relay on a loopback port with a real SQLite file, and real client sessions."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from pairtui.client import Backoff, ClientSession
from server.relay import Relay, RelayConfig
from server.store.sqlite import SQLiteStore

SessionFactory = Callable[..., Awaitable[ClientSession]]


@pytest.fixture
async def relay(tmp_path: Path) -> AsyncIterator[Relay]:
    store = await SQLiteStore.open(tmp_path / "relay")
    relay = Relay(store, RelayConfig(port=0, room_linger=0.5))
    await relay.start()
    yield relay
    await relay.shutdown()
    await store.close()


def relay_url(relay: Relay) -> str:
    return f"ws://127.0.0.1:{relay.port}/"


@pytest.fixture
async def sessions() -> AsyncIterator[Callable[..., Awaitable[ClientSession]]]:
    """Started sessions on any relay, closed at the end of the test."""
    started: list[ClientSession] = []

    async def make(
        relay: Relay, name: str = "ada", room: str = "demo", **kwargs: object
    ) -> ClientSession:
        kwargs.setdefault("backoff", Backoff(base=0.05, cap=0.2))
        created = ClientSession(relay_url(relay), room, name, **kwargs)  # type: ignore[arg-type]
        started.append(created)
        await created.start()
        return created

    yield make
    for created in started:
        await created.close()


@pytest.fixture
def session(relay: Relay, sessions: Callable[..., Awaitable[ClientSession]]) -> SessionFactory:
    """Started sessions on the test's relay."""

    async def make(name: str = "ada", room: str = "demo", **kwargs: object) -> ClientSession:
        return await sessions(relay, name, room, **kwargs)

    return make
