"""Real apps against a real relay: two people in one process, each with their own session."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import pytest
from textual.pilot import Pilot

from pairtui.client import Backoff, ClientSession
from pairtui.journal import Journal
from pairtui.ui.app import PairApp
from pairtui.ui.editor import PairEditor
from server.relay import Relay, RelayConfig
from server.store.sqlite import SQLiteStore
from tests.server.relay_process import free_port


@pytest.fixture(autouse=True)
def no_cursor_blink(monkeypatch: pytest.MonkeyPatch) -> None:
    """Deterministic screens: the cursor does not blink."""
    monkeypatch.setattr(PairEditor, "cursor_blink", False)


class RelayHandle:
    def __init__(self, data: Path, port: int) -> None:
        self.data = data
        self.port = port
        self.relay: Relay | None = None
        self.store: SQLiteStore | None = None

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/"

    async def start(self) -> None:
        self.store = await SQLiteStore.open(self.data)
        self.relay = Relay(self.store, RelayConfig(port=self.port))
        await self.relay.start()

    async def stop(self) -> None:
        assert self.relay is not None and self.store is not None
        await self.relay.shutdown()
        await self.store.close()
        self.relay = self.store = None


@pytest.fixture
async def relay_handle(tmp_path: Path) -> AsyncIterator[RelayHandle]:
    handle = RelayHandle(tmp_path / "relay", free_port())
    await handle.start()
    yield handle
    if handle.relay is not None:
        await handle.stop()


AppFactory = Callable[..., "asynccontextmanager[tuple[PairApp, Pilot[int]]]"]


@pytest.fixture
def person(relay_handle: RelayHandle, tmp_path: Path) -> Callable[..., object]:
    @asynccontextmanager
    async def run(
        name: str, room: str = "pilot", key: str | None = None, **app_options: object
    ) -> AsyncIterator[tuple[PairApp, Pilot[int]]]:
        home = tmp_path / f"home-{name}"
        session = ClientSession(
            relay_handle.url,
            room,
            name,
            key=key,
            backoff=Backoff(0.05, 0.2),
            journal=Journal(home, relay_handle.url, room),
        )
        app = PairApp(session, **app_options)  # type: ignore[arg-type]
        async with AsyncExitStack() as stack:
            pilot = await stack.enter_async_context(app.run_test(size=(100, 24)))
            await wait_for(pilot, lambda: app.current_file is not None)
            yield app, pilot

    return run


async def wait_for(pilot: Pilot[int], condition: Callable[[], bool], timeout: float = 5.0) -> None:
    for _ in range(int(timeout / 0.02)):
        if condition():
            return
        await pilot.pause(0.02)
    raise AssertionError("condition not met in time")
