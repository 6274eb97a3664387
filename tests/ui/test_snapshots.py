"""Snapshots of what a person sees: the main screen alone, and with a partner in the file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from pairtui.access import Target
from pairtui.client import ClientSession
from pairtui.core import protocol as p
from pairtui.ui import chat_panel
from pairtui.ui.app import PairApp
from pairtui.ui.editor import PairEditor
from tests.server.relay_process import RelayProcess, free_port

TERMINAL = (100, 24)


@pytest.fixture(autouse=True)
def no_round_trips(monkeypatch: pytest.MonkeyPatch) -> None:
    """Round-trip times vary from run to run: keep them off the screens compared."""
    monkeypatch.setattr(ClientSession, "ping", lambda self: None)


@pytest.fixture
def relay_url(tmp_path: Path) -> Iterator[str]:
    process = RelayProcess(tmp_path / "relay", free_port())
    process.start()
    yield process.url
    process.stop()


async def until(pilot: Pilot[Any], condition: Any) -> None:
    for _ in range(250):
        if condition():
            return
        await pilot.pause(0.02)
    raise AssertionError("the screen never got ready")


def new_app(url: str, room: str) -> PairApp:
    target = Target(url, room, None, embedded=True)  # the hint must not show the random port
    return PairApp(ClientSession(url, room, "ada"), target=target)


def test_main_screen(snap_compare: Any, relay_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(PairEditor, "cursor_blink", False)
    app = new_app(relay_url, "snap-main")

    async def run_before(pilot: Pilot[Any]) -> None:
        await until(pilot, lambda: app.current_file is not None)
        await pilot.press(*"def greet(name):", "enter", *"    return f'hello {name}'  # hi")
        await app.session.wait_synced()
        await pilot.pause()

    assert snap_compare(app, terminal_size=TERMINAL, run_before=run_before)


def test_main_screen_with_a_partner(
    snap_compare: Any, relay_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(PairEditor, "cursor_blink", False)
    app = new_app(relay_url, "snap-partner")
    partner = ClientSession(relay_url, "snap-partner", "bob", color="#61afef")

    async def run_before(pilot: Pilot[Any]) -> None:
        await until(pilot, lambda: app.current_file is not None)
        await pilot.press(*"import os", "enter", "enter", *"print(os.getcwd())")
        await app.session.wait_synced()
        await partner.start()
        file = app.current_file
        assert file is not None
        await partner.open(file)
        partner.set_presence(p.SetPresence(file=file, cursor=17, anchor=11))
        await until(pilot, lambda: any(c.cursor == 17 for c in app.editor.remote_cursors))
        await pilot.pause(0.1)

    # The partner's session lives on the app's event loop and ends with it.
    assert snap_compare(app, terminal_size=TERMINAL, run_before=run_before)


def test_panels_files_people_and_chat(
    snap_compare: Any, relay_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sidebar (files, people) and chat with a link and a code block."""
    monkeypatch.setattr(PairEditor, "cursor_blink", False)
    monkeypatch.setattr(chat_panel, "message_time", lambda seconds: "12:00")
    session = ClientSession(relay_url, "snap-panels", "ada")
    target = Target(relay_url, "snap-panels", None, embedded=True)  # no random port on screen
    app = PairApp(session, show_sidebar=True, target=target)
    partner = ClientSession(relay_url, "snap-panels", "bob", color="#61afef")

    async def run_before(pilot: Pilot[Any]) -> None:
        await until(pilot, lambda: app.current_file is not None)
        await pilot.press(*"def add(a, b):", "enter", *"    return a + b")
        await app.session.wait_synced()
        await partner.start()
        file = app.current_file
        assert file is not None
        partner.create_file("ex/02.py")
        await partner.open(file)
        partner.set_presence(p.SetPresence(file=file, cursor=4, anchor=4))
        partner.send_chat("see https://docs.python.org/3/ and main.py:2\n```python\nadd(1, 2)\n```")
        await until(pilot, lambda: len(app.chat_panel.log_view) == 1)
        await until(pilot, lambda: any(c.cursor == 4 for c in app.editor.remote_cursors))
        await pilot.press("f3")
        await pilot.pause(0.3)

    assert snap_compare(app, terminal_size=(140, 30), run_before=run_before)
