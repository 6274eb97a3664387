"""Keys in the app: read-only guests only watch, F1 shows the right links, remove and rotate."""

from __future__ import annotations

from textual.pilot import Pilot

from pairtui.access import create_room
from pairtui.core.keys import parse_invite, read_key_for
from pairtui.ui.app import PairApp
from tests.ui.conftest import RelayHandle, wait_for


async def palette(pilot: Pilot[int], query: str) -> None:
    """Run a command through the command palette, as a person would."""
    await pilot.press("ctrl+p")
    await pilot.pause(0.2)
    await pilot.press(*query)
    await pilot.pause(0.5)
    await pilot.press("enter")
    await pilot.pause(0.2)


def notices(app: PairApp) -> list[str]:
    return [str(n.message) for n in app._notifications]


async def test_a_read_only_guest_watches_but_cannot_type(
    person: object, relay_handle: RelayHandle
) -> None:
    key = await create_room(relay_handle.url, "locked", None, None)
    async with (
        person("ada", "locked", key) as (ada, ada_pilot),  # type: ignore[operator]
        person("guest", "locked", read_key_for(key)) as (guest, guest_pilot),  # type: ignore[operator]
    ):
        assert guest.session.role == "read" and guest.editor.read_only
        await guest_pilot.press(*"nope", "enter")
        await ada_pilot.press(*"print('hi')")
        await wait_for(guest_pilot, lambda: guest.editor.text_now == "print('hi')")
        await ada.session.wait_synced()
        assert ada.editor.text_now == "print('hi')"  # the guest's keys changed nothing
        await ada_pilot.press("f1")
        [ada_links] = [n for n in notices(ada) if "pairtui+ws://" in n]
        assert "To edit with you" in ada_links and "read-only" in ada_links
        links = [word.strip("'") for word in ada_links.split() if word.startswith("'pairtui")]
        assert [parse_invite(link).key for link in links] == [key, read_key_for(key)]
        await guest_pilot.press("f1")
        [guest_links] = [n for n in notices(guest) if "pairtui+ws://" in n]
        assert "To edit" not in guest_links and read_key_for(key) in guest_links
        assert key not in guest_links


async def test_remove_and_rotate_from_the_app(person: object, relay_handle: RelayHandle) -> None:
    key = await create_room(relay_handle.url, "locked", None, None)
    async with (
        person("ada", "locked", key) as (ada, ada_pilot),  # type: ignore[operator]
        person("bob", "locked", key) as (bob, bob_pilot),  # type: ignore[operator]
    ):
        await wait_for(ada_pilot, lambda: len(ada.session.members) == 2)
        await palette(ada_pilot, "Rotate room keys")
        await ada_pilot.press("y")
        await wait_for(ada_pilot, lambda: ada.session.key not in (None, key))
        await wait_for(bob_pilot, lambda: bob.session.key == ada.session.key)
        await wait_for(bob_pilot, lambda: any("new keys" in n for n in notices(bob)))
        await palette(ada_pilot, "Remove bob from")
        await ada_pilot.press("y")
        await wait_for(bob_pilot, lambda: bob.session.status == "closed")
        await wait_for(bob_pilot, lambda: any("ada removed you" in n for n in notices(bob)))
        await wait_for(ada_pilot, lambda: len(ada.session.members) == 1)
