"""Voice in the app: F6 joins and leaves the call, F7 mutes (or, push-to-talk, talks).

The call itself (``pairtui/voice/call.py``) is imported only when someone
presses F6, so the editor starts as fast without the voice extra as with
it, and pressing F6 without it says exactly what to install.

Terminals report key presses but not releases, so push-to-talk treats F7
as held while the terminal keeps repeating it, and lets go a moment after
the repeats stop.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING

from textual import work
from textual.app import App
from textual.timer import Timer

from pairtui.config import VoiceSettings
from pairtui.ui.people import level_bar
from pairtui.voice import voice_unavailable

if TYPE_CHECKING:
    from pairtui.client import ClientSession
    from pairtui.ui.status import StatusBar
    from pairtui.voice.call import VoiceCall, VoiceNotice
    from pairtui.voice.devices import AudioDevices, DeviceInfo

PUSH_TO_TALK_RELEASE = 0.6
"""Seconds after the last F7 (press or key repeat) that push-to-talk mutes again: longer
than a terminal's delay before it starts repeating a held key."""
LEVEL_INTERVAL = 0.1


class VoiceActions(App[int]):
    """Join, leave, mute, push-to-talk and devices."""

    session: ClientSession
    status_bar: StatusBar
    voice_settings: VoiceSettings
    voice_devices: Callable[[VoiceSettings], AudioDevices] | None
    """Where the call's audio comes from and goes; ``None``: the sound card (tests pass files)."""
    voice_call: VoiceCall | None
    push_to_talk: bool
    _ptt_timer: Timer | None
    _voice_turn: asyncio.Lock
    """One voice change at a time: F6 pressed twice joins, then leaves."""
    _level_timer: Timer | None
    _meters_shown: dict[str, str]
    _queue_panels: Callable[[], None]  # PairApp defines it

    @work(group="voice")
    async def action_toggle_voice(self) -> None:
        """F6: join the room's voice call; again to leave it.

        Not an exclusive worker: a second F6 must not cancel the first halfway
        through opening devices or hanging up; it waits its turn instead."""
        async with self._voice_turn:
            await self._toggle_voice()

    async def _toggle_voice(self) -> None:
        call = self.voice_call
        if call is not None and call.status != "off":
            await call.leave()
            self.notify("You left voice.", title="Voice", timeout=3)
            self._voice_changed()
            return
        problem = voice_unavailable()
        if problem is not None:
            self.notify(problem, title="Voice", severity="error", timeout=20)
            return
        if self.session.role == "read":
            self.notify(
                "You joined read-only: voice is for people with a write link.",
                title="Voice",
                severity="warning",
            )
            return
        call = self._ensure_call()
        if await call.join(muted=self.push_to_talk):
            how = "hold F7 to talk" if self.push_to_talk else "F7 mutes"
            self.notify(f"Joining voice: {how}, F6 leaves.", title="Voice", timeout=4)
        self._voice_changed()

    def action_voice_mute(self) -> None:
        """F7: mute or unmute; with push-to-talk, talk while it is held."""
        call = self.voice_call
        if call is None or call.status == "off":
            self.notify("You are not in voice: F6 joins.", title="Voice", timeout=3)
            return
        if self.push_to_talk:
            call.set_muted(False)
            if self._ptt_timer is not None:
                self._ptt_timer.stop()
            self._ptt_timer = self.set_timer(PUSH_TO_TALK_RELEASE, self._release_talk)
        else:
            call.set_muted(not call.muted)
        self._voice_changed()

    def action_toggle_push_to_talk(self) -> None:
        self.push_to_talk = not self.push_to_talk
        call = self.voice_call
        if call is not None and call.status != "off":
            call.set_muted(self.push_to_talk)
        state = "on: hold F7 to talk" if self.push_to_talk else "off: F7 mutes and unmutes"
        self.notify(f"Push-to-talk {state}.", title="Voice", timeout=4)
        self._voice_changed()

    @work(group="voice")
    async def action_voice_device(self, kind: str, name: str) -> None:
        """Use the microphone (``kind`` "input") or speaker named ``name`` from now on."""
        async with self._voice_turn:
            await self._use_device(kind, name)

    async def _use_device(self, kind: str, name: str) -> None:
        settings = self.voice_settings
        self.voice_settings = (
            dataclasses.replace(settings, microphone=name)
            if kind == "input"
            else dataclasses.replace(settings, speaker=name)
        )
        thing = "microphone" if kind == "input" else "speaker"
        call = self.voice_call
        if call is not None and call.status != "off":
            await call.leave()  # the call rejoins with the new device: a second of silence
            call.devices = self._devices()
            await call.join(muted=call.muted)
        elif call is not None:
            call.devices = self._devices()
        self.notify(f"Voice uses the {thing} {name!r}.", title="Voice", timeout=4)
        self._voice_changed()

    def voice_device_choices(self) -> list[DeviceInfo]:
        """The sound card's devices for the palette; none when voice cannot run here."""
        if self.voice_devices is not None or voice_unavailable() is not None:
            return []
        from pairtui.voice.devices import DeviceError, list_devices

        try:
            return list_devices()
        except DeviceError:
            return []

    async def close_voice(self) -> None:
        if self.voice_call is not None:
            await self.voice_call.close()

    # -- inside -------------------------------------------------------------------------

    def _ensure_call(self) -> VoiceCall:
        from pairtui.voice.call import VoiceCall

        if self.voice_call is None:
            self.voice_call = VoiceCall(
                self.session,
                self._devices(),
                ice_servers=list(self.voice_settings.ice_servers),
                on_notice=self._voice_notice,
            )
        return self.voice_call

    def _devices(self) -> AudioDevices:
        if self.voice_devices is not None:
            return self.voice_devices(self.voice_settings)
        from pairtui.voice.devices import SoundDevices

        return SoundDevices(self.voice_settings.microphone, self.voice_settings.speaker)

    def _voice_notice(self, notice: VoiceNotice) -> None:
        timeout = 4 if notice.severity == "information" else 12
        self.notify(notice.text, title="Voice", severity=notice.severity, timeout=timeout)
        self._voice_changed()

    def _release_talk(self) -> None:
        self._ptt_timer = None
        if self.push_to_talk and self.voice_call is not None and self.voice_call.status != "off":
            self.voice_call.set_muted(True)
            self._voice_changed()

    def _voice_changed(self) -> None:
        """Show the call's state now, and keep the level meters moving while in it."""
        call = self.voice_call
        in_call = call is not None and call.status != "off"
        if in_call and self._level_timer is None:
            self._level_timer = self.set_interval(LEVEL_INTERVAL, self._show_levels)
        elif not in_call and self._level_timer is not None:
            self._level_timer.stop()
            self._level_timer = None
        self._show_levels()

    def _show_levels(self) -> None:
        call = self.voice_call
        bar = self.status_bar
        levels = call.levels() if call is not None else {}
        if call is None or call.status == "off":
            bar.voice = ""
            bar.voice_level = 0.0
        else:
            bar.voice = "joining" if call.status == "joining" else "muted" if call.muted else "on"
            if self.push_to_talk:
                bar.voice = "talking" if not call.muted else "push-to-talk"
            bar.voice_level = levels.get(self.session.member or "", 0.0)
        meters = {member: level_bar(level) for member, level in levels.items()}
        if meters != self._meters_shown:  # the people panel redraws only when a meter moves
            self._meters_shown = meters
            self._queue_panels()
