"""Two people, two real apps, one real relay."""

from __future__ import annotations

from pairtui.core import protocol as p
from pairtui.ui.app import PairApp
from tests.ui.conftest import RelayHandle, wait_for


def text(app: PairApp) -> str:
    return app.editor.text_now


async def test_what_one_types_appears_in_the_other(person: object) -> None:
    async with person("ada") as (ada, ada_pilot), person("bob") as (bob, bob_pilot):  # type: ignore[operator]
        await ada_pilot.press(*"x = 1", "enter")
        await wait_for(bob_pilot, lambda: text(bob) == "x = 1\n")
        assert bob.editor.text == "x = 1\n"  # the widget's own document agrees
        assert bob.editor.cursor_location == (0, 0)  # someone else's text went after it
        await bob_pilot.press("down", *"# bob")
        await wait_for(ada_pilot, lambda: text(ada) == "x = 1\n# bob")
        assert ada.editor.text == "x = 1\n# bob"


async def test_partner_cursor_and_selection_show_and_move(person: object) -> None:
    async with person("ada") as (ada, ada_pilot), person("bob") as (bob, bob_pilot):  # type: ignore[operator]
        await ada_pilot.press(*"hello world")
        await wait_for(bob_pilot, lambda: text(bob) == "hello world")
        await bob_pilot.press("end", "shift+left", "shift+left", "shift+left")  # select "rld"
        bob_id = bob.session.member

        def ada_sees_bob() -> bool:
            return any(
                c.member == bob_id and (c.anchor, c.cursor) == (11, 8)
                for c in ada.editor.remote_cursors
            )

        await wait_for(ada_pilot, ada_sees_bob)
        row0 = ada.editor.line_highlights(0)
        assert (8, 11, f"pair.{bob_id}.selection") in row0
        assert (8, 9, f"pair.{bob_id}.cursor") in row0
        assert ada.editor._theme.syntax_styles[f"pair.{bob_id}.cursor"].bgcolor is not None
        await ada_pilot.press("home", *">> ")  # typing before bob's selection moves it right
        [cursor] = [c for c in ada.editor.remote_cursors if c.member == bob_id]
        assert (cursor.anchor, cursor.cursor) == (14, 11)
        await wait_for(bob_pilot, lambda: text(bob) == ">> hello world")
        assert bob.editor.selection == ((0, 14), (0, 11))  # bob's own selection stayed on "rld"


async def test_undo_reverts_only_my_own_edits(person: object) -> None:
    async with person("ada") as (ada, ada_pilot), person("bob") as (bob, bob_pilot):  # type: ignore[operator]
        await ada_pilot.press(*"mine")
        await wait_for(bob_pilot, lambda: text(bob) == "mine")
        await bob_pilot.press("end", "enter", *"theirs")
        await wait_for(ada_pilot, lambda: text(ada) == "mine\ntheirs")
        await ada_pilot.press("ctrl+z")
        await wait_for(bob_pilot, lambda: text(bob) == "\ntheirs")
        assert text(ada) == "\ntheirs"
        await ada_pilot.press("ctrl+y")
        await wait_for(bob_pilot, lambda: text(bob) == "mine\ntheirs")


async def test_my_cursor_stays_on_my_text_when_my_partner_edits_above(person: object) -> None:
    async with person("ada") as (ada, ada_pilot), person("bob") as (bob, bob_pilot):  # type: ignore[operator]
        await ada_pilot.press(*"line one", "enter", *"line two")
        await wait_for(bob_pilot, lambda: text(bob) == "line one\nline two")
        assert ada.editor.cursor_location == (1, 8)
        await bob_pilot.press("up", "home", *"# new", "enter")
        await wait_for(ada_pilot, lambda: text(ada).startswith("# new\n"))
        assert ada.editor.cursor_location == (2, 8)  # still at the end of "line two"
        await ada_pilot.press(*"!")
        await wait_for(bob_pilot, lambda: text(bob) == "# new\nline one\nline two!")


async def test_edits_made_while_the_relay_is_down_arrive_once(
    person: object, relay_handle: RelayHandle
) -> None:
    async with person("ada") as (ada, ada_pilot), person("bob") as (bob, bob_pilot):  # type: ignore[operator]
        await ada_pilot.press(*"before")
        await wait_for(bob_pilot, lambda: text(bob) == "before")
        await relay_handle.stop()
        await wait_for(ada_pilot, lambda: ada.session.status != "connected")
        await ada_pilot.press(*" during")
        assert ada.status_bar.status in ("reconnecting", "connecting")
        await relay_handle.start()
        await wait_for(bob_pilot, lambda: text(bob) == "before during", timeout=10)
        await ada.session.wait_synced()
        assert text(ada) == "before during"


async def test_quit_while_offline_then_start_again(
    person: object, relay_handle: RelayHandle
) -> None:
    async with person("ada") as (ada, ada_pilot):  # type: ignore[operator]
        await ada_pilot.press(*"kept")
        await ada.session.wait_synced()
        await relay_handle.stop()
        await wait_for(ada_pilot, lambda: ada.session.status != "connected")
        await ada_pilot.press(*" offline")
        assert ada.session.pending
    await relay_handle.start()
    async with person("ada") as (again, _pilot):  # type: ignore[operator]
        await again.session.wait_synced()
        assert text(again) == "kept offline"
    assert relay_handle.store is not None
    record = await relay_handle.store.load_room("pilot", history=10)
    assert record is not None and record.files[0].text == "kept offline"


async def test_switching_files_keeps_the_connection(person: object) -> None:
    async with person("ada") as (ada, ada_pilot):  # type: ignore[operator]
        connection = ada.session._connection
        ada.session.create_file("two.md", "# two\n")
        await wait_for(ada_pilot, lambda: len(ada.session.files) == 2)
        two = ada.session.file_id("two.md")
        assert two is not None
        await ada.open_file(two)
        assert text(ada) == "# two\n" and ada.status_bar.path == "two.md"
        assert ada.editor.line_highlights(0)  # markdown heading is highlighted
        assert ada.session._connection is connection
        await wait_for(ada_pilot, lambda: getattr(ada.session._presence, "file", None) == two)
        assert isinstance(ada.session._presence, p.SetPresence)


async def test_a_partners_paste_is_shown_whole(person: object) -> None:
    """A multi-character remote insert widens the editor (it once stayed clipped)."""
    from textual.geometry import Region

    async with person("ada") as (ada, ada_pilot), person("bob") as (bob, bob_pilot):  # type: ignore[operator]
        await ada_pilot.press(*"print")
        await wait_for(bob_pilot, lambda: text(bob) == "print")
        ada.editor.insert("('a line much wider than it was before')\n", (0, 5))
        await wait_for(bob_pilot, lambda: text(bob).endswith("before')\n"))
        await bob_pilot.pause()
        rendered = bob.editor.render_lines(Region(0, 0, 100, 1))[0].text
        assert "print('a line much wider than it was before')" in rendered
