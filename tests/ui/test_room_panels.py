"""The room around the editor, with two real apps on one real relay: files, people, chat."""

from __future__ import annotations

import webbrowser

import pytest
from rich.syntax import Syntax
from rich.text import Text
from textual.widgets import Input, Static

from pairtui.core import protocol as p
from pairtui.ui import people
from pairtui.ui.app import PairApp
from pairtui.ui.chat_format import Code, Link, Reference
from pairtui.ui.chat_panel import ChatEntry
from tests.ui.conftest import wait_for


def notices(app: PairApp) -> list[str]:
    return [notification.message for notification in app._notifications]


def option_texts(panel: object) -> list[str]:
    options = panel.options  # type: ignore[attr-defined]
    return [
        str(option.prompt) if not isinstance(option.prompt, Text) else option.prompt.plain
        for option in options
    ]


def entries(app: PairApp) -> list[ChatEntry]:
    return list(app.chat_panel.log_view.query(ChatEntry).results(ChatEntry))


async def test_files_panel_creates_renames_opens_and_deletes(person: object) -> None:
    async with (
        person("ada", show_sidebar=True) as (ada, ada_pilot),  # type: ignore[operator]
        person("bob", show_sidebar=True) as (bob, bob_pilot),  # type: ignore[operator]
    ):
        await ada_pilot.press("ctrl+n", *"ex/02.py", "enter")
        await wait_for(ada_pilot, lambda: ada.status_bar.path == "ex/02.py")
        await wait_for(
            bob_pilot, lambda: any("ex/02.py ●a" in t for t in option_texts(bob.files_panel))
        )
        assert any(t.startswith("▸ ex/02.py") for t in option_texts(ada.files_panel))

        await ada_pilot.press("f2")  # the sidebar is shown: F2 moves into the files panel
        assert ada.files_panel.has_focus
        assert ada.files_panel.highlighted_option is not None
        assert ada.files_panel.highlighted_option.id == ada.current_file
        await ada_pilot.press("r")
        prompt = ada.query_one("#path-prompt", Input)
        assert prompt.value == "ex/02.py"
        await ada_pilot.press("end", *["backspace"] * 5, *"two.py", "enter")
        await wait_for(bob_pilot, lambda: bob.session.file_id("ex/two.py") is not None)
        assert ada.status_bar.path == "ex/two.py"

        # Bob opens it from his panel: same connection, no reconnect.
        file = bob.session.file_id("ex/two.py")
        await bob_pilot.press("f2")
        while bob.files_panel.highlighted_option.id != file:  # type: ignore[union-attr]
            await bob_pilot.press("down")
        await bob_pilot.press("enter")
        await wait_for(bob_pilot, lambda: bob.current_file == file)
        assert bob.editor.has_focus
        assert bob.session.reconnects == 0

        await ada_pilot.press("f2")  # back into the files panel, on the open file
        await ada_pilot.press("d")
        await ada_pilot.press("y")
        await wait_for(bob_pilot, lambda: bob.session.file_id("ex/two.py") is None)
        await wait_for(ada_pilot, lambda: ada.status_bar.path == "main.py")
        await wait_for(bob_pilot, lambda: bob.status_bar.path == "main.py")
        assert any("was deleted from the room" in n for n in notices(bob))


async def test_deleting_asks_first_and_no_keeps_the_file(person: object) -> None:
    async with person("ada", show_sidebar=True) as (ada, ada_pilot):  # type: ignore[operator]
        await ada_pilot.press("f2", "d", "n")
        await ada_pilot.pause(0.2)
        assert [f.path for f in ada.session.files] == ["main.py"]


async def test_people_panel_shows_where_each_person_is_and_how_they_are(
    person: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with (
        person("ada") as (ada, ada_pilot),  # type: ignore[operator]
        person("bob", show_sidebar=True) as (bob, bob_pilot),  # type: ignore[operator]
    ):
        await ada_pilot.press(*"one", "enter", *"two", "enter", *"three")
        ada.session.ping()  # her round trip goes out with her presence

        def ada_row() -> str:
            return next((t for t in option_texts(bob.people_panel) if "ada" in t), "")

        await wait_for(bob_pilot, lambda: "main.py:3 · typing" in ada_row())
        await wait_for(bob_pilot, lambda: " ms" in ada_row())
        assert "can write" in ada_row()
        assert "good" in ada_row()
        assert option_texts(bob.people_panel)[0].startswith("● bob (you)")
        assert "main.py:1" in option_texts(bob.people_panel)[0]

        monkeypatch.setattr(people, "TYPING_SECONDS", 0.2)
        await wait_for(bob_pilot, lambda: "main.py:3 · idle" in ada_row())


async def test_chat_with_a_link_and_a_code_block(
    person: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[str] = []
    monkeypatch.setattr(webbrowser, "open", lambda url, *a, **k: opened.append(url) or True)
    async with (
        person("ada") as (ada, ada_pilot),  # type: ignore[operator]
        person("bob") as (bob, bob_pilot),  # type: ignore[operator]
    ):
        await ada_pilot.press("f3")
        assert ada.chat_panel.input.has_focus
        await ada_pilot.press(*"docs: https://example.org/re", "ctrl+j", *"```python", "ctrl+j")
        await ada_pilot.press(*"x = 1", "ctrl+j", *"```", "enter")
        await wait_for(bob_pilot, lambda: len(entries(bob)) == 1)
        assert ada.chat_panel.input.text == ""  # sent, so cleared

        entry = entries(bob)[0]
        assert Link("https://example.org/re") in entry.pieces
        assert Code("python", "x = 1") in entry.pieces
        shown = entry.query_one(Static).content
        [code] = [part for part in shown.renderables if isinstance(part, Syntax)]  # type: ignore[union-attr]
        assert code.code == "x = 1"
        assert code.lexer is not None and code.lexer.name == "Python"  # highlighted by Pygments
        assert bob.unread == 1
        assert "1 unread" in str(bob.status_bar.render())
        assert any("https://example.org/re" in n for n in notices(bob))

        await bob_pilot.press("f3")  # show chat: nothing unread any more
        assert bob.unread == 0
        await bob_pilot.pause()
        await bob_pilot.click(entry.query_one(Static), offset=(10, 1))  # on the link
        await wait_for(bob_pilot, lambda: opened == ["https://example.org/re"])
        assert ada.unread == 0  # your own messages are never unread


async def test_history_is_there_on_joining(person: object) -> None:
    async with person("ada") as (ada, ada_pilot):  # type: ignore[operator]
        await ada_pilot.press("f3", *"hello, anyone?", "enter")
        await ada_pilot.press(*"second", "enter")
        await wait_for(ada_pilot, lambda: len(entries(ada)) == 2)
        async with person("bob") as (bob, bob_pilot):  # type: ignore[operator]
            await wait_for(bob_pilot, lambda: len(entries(bob)) == 2)
            assert [e.message.text for e in entries(bob)] == ["hello, anyone?", "second"]
            assert bob.unread == 0  # history is not news


async def test_long_messages_and_floods_get_a_clear_notice(person: object) -> None:
    async with person("ada") as (ada, ada_pilot):  # type: ignore[operator]
        await ada_pilot.press("f3")
        ada.chat_panel.input.load_text("x" * (p.MAX_CHAT_LENGTH + 1))
        await ada_pilot.press("enter")
        assert any("chat takes at most 8,000" in n for n in notices(ada))
        assert len(ada.chat_panel.input.text) == p.MAX_CHAT_LENGTH + 1  # kept, not lost
        ada.chat_panel.input.clear()
        for number in range(20):  # a flood: faster than the relay lets anyone post
            ada.session.send_chat(f"m{number}")
        await wait_for(ada_pilot, lambda: any("slow down" in n for n in notices(ada)))
        await wait_for(ada_pilot, lambda: len(entries(ada)) >= 10)
        await ada_pilot.pause(0.2)
        assert 10 <= len(entries(ada)) < 20
        assert ada.session.status == "connected"  # refused messages, not a dropped connection


async def test_send_selection_and_jump_to_the_reference(person: object) -> None:
    async with (
        person("ada") as (ada, ada_pilot),  # type: ignore[operator]
        person("bob") as (bob, bob_pilot),  # type: ignore[operator]
    ):
        await ada_pilot.press(*"a = 1", "enter", *"b = 2", "enter", *"c = 3", "enter", *"d = 4")
        await wait_for(bob_pilot, lambda: bob.editor.text_now.endswith("d = 4"))
        await ada_pilot.press("up", "up", "home", "shift+down", "shift+down")  # lines 2 and 3
        await ada_pilot.press("f4")
        await wait_for(bob_pilot, lambda: len(entries(bob)) == 1)
        entry = entries(bob)[0]
        assert entry.message.text == "main.py:2-3\n```python\nb = 2\nc = 3\n```"
        assert entry.target == Reference("main.py", 2, 3)
        assert bob.editor.cursor_location == (0, 0)

        await bob_pilot.press("f3")
        await bob_pilot.pause()
        await bob_pilot.click(entry.query_one(Static), offset=(2, 1))  # on "main.py:2-3"
        await wait_for(bob_pilot, lambda: bob.editor.cursor_location == (1, 0))
        assert bob.editor.has_focus

        # From another file, by keyboard: the reference switches files too.
        await ada_pilot.press("ctrl+n", *"ex/b.py", "enter")
        await wait_for(ada_pilot, lambda: ada.status_bar.path == "ex/b.py")
        await ada_pilot.press(*"first", "enter", *"second", "f4")
        await wait_for(bob_pilot, lambda: len(entries(bob)) == 2)
        bob.chat_panel.log_view.focus()
        bob.chat_panel.log_view.index = 1
        await bob_pilot.press("enter")
        await wait_for(bob_pilot, lambda: bob.status_bar.path == "ex/b.py")
        await wait_for(bob_pilot, lambda: bob.editor.cursor_location == (1, 0))
