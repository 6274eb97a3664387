"""Follow mode, go there and summon, with two (or three) real apps on one real relay."""

from __future__ import annotations

from pairtui.ui.app import PairApp
from tests.ui.conftest import wait_for
from tests.ui.test_room_panels import notices

LINES = "".join(f"line {n}\n" for n in range(1, 61))


def at_line(app: PairApp, row: int) -> bool:
    return app.editor.cursor_location[0] == row


async def go_to_row(app: PairApp, pilot: object, row: int) -> None:
    """Move the cursor with arrow keys, as a person would."""
    current = app.editor.cursor_location[0]
    keys = ["down"] * (row - current) if row > current else ["up"] * (current - row)
    await pilot.press("home", *keys)  # type: ignore[attr-defined]
    assert app.editor.cursor_location == (row, 0)


async def type_lines(app: PairApp, pilot: object, partner: PairApp, partner_pilot: object) -> None:
    app.editor.insert(LINES)  # through the editor, as a paste would be
    await wait_for(partner_pilot, lambda: partner.editor.text_now == LINES)  # type: ignore[arg-type]


async def test_follow_moves_with_the_partner_stops_when_you_move_and_resumes(
    person: object,
) -> None:
    async with (
        person("ada") as (ada, ada_pilot),  # type: ignore[operator]
        person("bob") as (bob, bob_pilot),  # type: ignore[operator]
    ):
        await type_lines(ada, ada_pilot, bob, bob_pilot)
        await wait_for(bob_pilot, lambda: ada.session.member in bob.session.members)
        await bob_pilot.press("f5")  # the only partner: no need to choose
        assert bob.follow.target == ada.session.member
        assert "following ada" in str(bob.status_bar.render())
        await wait_for(bob_pilot, lambda: at_line(bob, 60))  # ada's cursor is at the end

        await go_to_row(ada, ada_pilot, 9)
        await wait_for(bob_pilot, lambda: at_line(bob, 9))
        # Into another file: bob comes along on the same connection.
        await ada_pilot.press("ctrl+n", *"ex/next.py", "enter")
        await wait_for(ada_pilot, lambda: ada.status_bar.path == "ex/next.py")
        await wait_for(bob_pilot, lambda: bob.status_bar.path == "ex/next.py")
        await ada_pilot.press(*"print('next')", "enter", *"x = 1")
        await wait_for(bob_pilot, lambda: bob.editor.cursor_location == (1, 5))
        assert bob.session.reconnects == 0

        # Bob moves: following stops at once, and he is told how to resume.
        await bob_pilot.press("up")
        assert bob.follow.target is None
        assert any("Stopped following ada. F5 resumes." in n for n in notices(bob))
        await go_to_row(ada, ada_pilot, 0)
        await ada_pilot.pause(0.3)
        await bob_pilot.pause(0.3)
        assert bob.editor.cursor_location == (0, 5)  # stayed where he moved to

        await bob_pilot.press("f5")  # resume
        assert bob.follow.target == ada.session.member
        await wait_for(bob_pilot, lambda: bob.editor.cursor_location == (0, 0))

        # Typing stops it too.
        await bob_pilot.press("#")
        assert bob.follow.target is None


async def test_follow_copies_the_partners_viewport(person: object) -> None:
    async with (
        person("ada") as (ada, ada_pilot),  # type: ignore[operator]
        person("bob") as (bob, bob_pilot),  # type: ignore[operator]
    ):
        await type_lines(ada, ada_pilot, bob, bob_pilot)
        await bob_pilot.press("f5")
        await go_to_row(ada, ada_pilot, 0)
        ada.editor.scroll_to(y=30, animate=False, immediate=True)  # she scrolls to read
        await wait_for(bob_pilot, lambda: bob.editor.scroll_offset.y == 30)


async def test_go_there_when_the_partner_moves_to_another_file(person: object) -> None:
    async with (
        person("ada") as (ada, ada_pilot),  # type: ignore[operator]
        person("bob") as (bob, bob_pilot),  # type: ignore[operator]
    ):
        await wait_for(bob_pilot, lambda: ada.session.member in bob.session.members)
        await ada_pilot.press("ctrl+n", *"ex/other.py", "enter")
        await wait_for(ada_pilot, lambda: ada.status_bar.path == "ex/other.py")
        await ada_pilot.press(*"a = 1", "enter", *"b")
        await wait_for(
            bob_pilot,
            lambda: any("ada moved to ex/other.py. F8 goes there." in n for n in notices(bob)),
        )
        assert bob.status_bar.path == "main.py"  # a notice, not a jump
        await bob_pilot.press("f8")
        await wait_for(bob_pilot, lambda: bob.status_bar.path == "ex/other.py")
        assert bob.follow.target is None  # going there is not following


async def test_summon_brings_the_partner_who_accepts_with_one_key(person: object) -> None:
    async with (
        person("ada") as (ada, ada_pilot),  # type: ignore[operator]
        person("bob") as (bob, bob_pilot),  # type: ignore[operator]
    ):
        await type_lines(ada, ada_pilot, bob, bob_pilot)
        await go_to_row(bob, bob_pilot, 0)
        await go_to_row(ada, ada_pilot, 41)
        await ada_pilot.press("f9")
        await wait_for(
            bob_pilot, lambda: any("ada asks you to come to main.py" in n for n in notices(bob))
        )
        assert at_line(bob, 0)
        await bob_pilot.press("f8")
        await wait_for(bob_pilot, lambda: at_line(bob, 41))
        assert bob.follow.target == ada.session.member  # accepting a summon follows


async def test_two_people_never_follow_each_other(person: object) -> None:
    async with (
        person("ada") as (ada, ada_pilot),  # type: ignore[operator]
        person("bob") as (bob, bob_pilot),  # type: ignore[operator]
    ):
        await wait_for(bob_pilot, lambda: ada.session.member in bob.session.members)
        await wait_for(ada_pilot, lambda: bob.session.member in ada.session.members)
        await ada_pilot.press("f5")
        assert ada.follow.target == bob.session.member
        await wait_for(
            bob_pilot,
            lambda: bob.session.members[ada.session.member].following == bob.session.member,
        )
        await bob_pilot.press("f5")
        assert bob.follow.target is None
        assert any("ada is following you" in n for n in notices(bob))


async def test_starting_to_follow_each_other_at_the_same_moment_settles_on_one(
    person: object,
) -> None:
    async with (
        person("ada") as (ada, ada_pilot),  # type: ignore[operator]
        person("bob") as (bob, bob_pilot),  # type: ignore[operator]
    ):
        await wait_for(bob_pilot, lambda: ada.session.member in bob.session.members)
        await wait_for(ada_pilot, lambda: bob.session.member in ada.session.members)
        ada.action_follow()  # both before either hears of the other
        bob.action_follow()
        assert ada.follow.target and bob.follow.target

        def settled() -> bool:
            return [ada.follow.target, bob.follow.target].count(None) == 1

        await wait_for(ada_pilot, settled)
        await ada_pilot.pause(0.5)
        assert settled()  # and it stays settled: no loop
        loser = ada if ada.follow.target is None else bob
        assert any("started following you at the same moment" in n for n in notices(loser))
