"""Voice in the real app: F6 joins and leaves, F7 mutes, the people panel shows who speaks.

Two apps in one room through a real relay; each app's microphone is a tone
played in real time and its speaker a recorder (the machine has no sound
card), and the audio crosses real WebRTC between them.
"""

from __future__ import annotations

import sys

import pytest
from rich.text import Text
from textual.notifications import Notification

from pairtui.config import VoiceSettings
from pairtui.ui.app import PairApp
from pairtui.voice.devices import AudioDevices
from pairtui.voice.wav import FileDevices
from tests.ui.conftest import wait_for
from tests.voice.tones import tone


def tone_devices(frequency: float) -> tuple[list[FileDevices], object]:
    opened: list[FileDevices] = []

    def make(settings: VoiceSettings) -> AudioDevices:
        devices = FileDevices(tone(frequency, 1.0))
        opened.append(devices)
        return devices

    return opened, make


def person_row(app: PairApp, member: str | None) -> str:
    prompt = app.people_panel.get_option(member or "").prompt
    assert isinstance(prompt, Text)
    return prompt.plain


async def test_f6_joins_voice_f7_mutes_and_the_panel_shows_who_speaks(person: object) -> None:
    ada_devices, ada_make = tone_devices(440)
    bob_devices, bob_make = tone_devices(660)
    ada_ctx = person("ada", voice_devices=ada_make, show_sidebar=True)  # type: ignore[operator]
    bob_ctx = person("bob", voice_devices=bob_make, show_sidebar=True)  # type: ignore[operator]
    async with ada_ctx as (ada, ada_pilot), bob_ctx as (bob, bob_pilot):
        await ada_pilot.press("f6")
        await bob_pilot.press("f6")
        bob_id = bob.session.member
        await wait_for(
            ada_pilot,
            lambda: bob_id in ada.voice_call.meters and ada.voice_call.meters[bob_id].speaking,  # type: ignore[union-attr]
            timeout=15,
        )
        await wait_for(ada_pilot, lambda: "voice ▮" in person_row(ada, bob_id))
        assert "voice" in ada.status_bar.render().plain
        assert "F7 mutes" in ada.status_bar.render().plain

        await bob_pilot.press("f7")
        await wait_for(ada_pilot, lambda: "voice muted" in person_row(ada, bob_id))
        assert "F7 unmutes" in bob.status_bar.render().plain
        await bob_pilot.press("f7")
        await wait_for(ada_pilot, lambda: "voice muted" not in person_row(ada, bob_id))

        await ada_pilot.press("f6")
        await wait_for(ada_pilot, lambda: ada.voice_call.status == "off")  # type: ignore[union-attr]
        assert ada_devices[0].recorder.closed and all(i.closed for i in ada_devices[0].inputs)
        await wait_for(bob_pilot, lambda: not bob.voice_call.links)  # type: ignore[union-attr]
        await wait_for(bob_pilot, lambda: "voice" not in person_row(bob, ada.session.member))
        assert "voice" not in ada.status_bar.render().plain
    assert bob_devices[0].recorder.closed  # quitting the app left the call


async def test_push_to_talk_talks_while_f7_repeats_then_mutes(person: object) -> None:
    _, make = tone_devices(440)
    async with person("ada", voice_devices=make) as (ada, pilot):  # type: ignore[operator]
        await pilot.press("ctrl+p")
        await pilot.press(*"push-to-talk", "enter")
        await wait_for(pilot, lambda: ada.push_to_talk)
        await pilot.press("f6")
        await wait_for(pilot, lambda: ada.voice_call is not None and ada.voice_call.status == "on")
        assert ada.voice_call.muted  # type: ignore[union-attr]
        await pilot.press("f7")  # held: the terminal repeats it
        assert not ada.voice_call.muted  # type: ignore[union-attr]
        for _ in range(5):
            await pilot.pause(0.2)
            await pilot.press("f7")
            assert not ada.voice_call.muted  # type: ignore[union-attr]
        await wait_for(pilot, lambda: ada.voice_call.muted, timeout=2)  # type: ignore[union-attr]
        await wait_for(
            pilot, lambda: ada.session.members[ada.session.member or ""].voice == "muted"
        )


async def test_without_the_voice_extra_f6_says_what_to_install(
    person: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "aiortc", None)  # how Python reports a missing package
    async with person("ada") as (ada, pilot):  # type: ignore[operator]
        await pilot.press("f6")

        def advice() -> list[Notification]:
            return [n for n in ada._notifications if "pip install" in n.message]

        await wait_for(pilot, lambda: bool(advice()))
        [note] = advice()
        assert "pip install 'pairtui[voice]'" in note.message
        assert not note.markup  # shown as written: "[voice]" is not taken for a style tag
        assert ada.voice_call is None


async def test_choosing_another_microphone_rejoins_the_call_with_it(person: object) -> None:
    chosen: list[VoiceSettings] = []

    def make(settings: VoiceSettings) -> AudioDevices:
        chosen.append(settings)
        return FileDevices(tone(440, 1.0))

    async with person("ada", voice_devices=make) as (ada, pilot):  # type: ignore[operator]
        await pilot.press("f6")
        await wait_for(pilot, lambda: ada.voice_call is not None and ada.voice_call.status == "on")
        await ada.run_action("voice_device('input', 'USB headset')")
        await wait_for(pilot, lambda: len(chosen) == 2 and ada.voice_call.status == "on")  # type: ignore[union-attr]
        assert chosen[-1].microphone == "USB headset"
        assert ada.voice_settings.microphone == "USB headset"
        assert any("microphone 'USB headset'" in str(n.message) for n in ada._notifications)


async def test_f6_twice_in_a_row_joins_then_leaves_and_lets_go_of_everything(
    person: object,
) -> None:
    opened, make = tone_devices(440)
    async with person("ada", voice_devices=make) as (ada, pilot):  # type: ignore[operator]
        await pilot.press("f6", "f6")  # faster than a join takes
        await wait_for(pilot, lambda: len(opened) == 1 and opened[0].recorder.closed)
        assert ada.voice_call is not None and ada.voice_call.status == "off"
        assert all(i.closed for i in opened[0].inputs)
        await pilot.press("f6")
        await wait_for(pilot, lambda: ada.voice_call.status == "on")  # type: ignore[union-attr]
        assert not opened[-1].recorder.closed
