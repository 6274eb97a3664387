"""The voice call of one person in a room: devices, the mesh of partners, mute and levels.

``VoiceCall`` rides on a ``ClientSession``: it sends ``voice_join`` and
signals through it and follows its events. The relay tells a newcomer
whom to offer to, so the mesh forms without two people ever offering to
each other. The audio devices are held only while in the call: leaving,
being refused, or losing the relay releases them and every task and
thread the call started; when the relay comes back, the call resumes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Literal

import av
import numpy as np
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError

from pairtui.client import (
    ClientSession,
    ErrorReceived,
    MembersChanged,
    SessionEvent,
    SignalReceived,
    StatusChanged,
    VoiceWelcomed,
)
from pairtui.core import protocol as p
from pairtui.core.protocol import ErrorCode
from pairtui.voice.audio import LevelMeter, Samples
from pairtui.voice.devices import AudioDevices, AudioInput, AudioOutput, DeviceError
from pairtui.voice.peer import PeerLink

log = logging.getLogger(__name__)
with contextlib.suppress(AttributeError):
    av.logging.set_level(av.logging.ERROR)  # FFmpeg's chatter would scribble over the TUI

CallStatus = Literal["off", "joining", "on"]
Severity = Literal["information", "warning", "error"]
SILENT_MICROPHONE_FRAMES = 150
"""Three seconds of digital zero from an unmuted microphone: it is muted or blocked."""
OLD_RELAY = "This relay may be too old for voice: relays take calls from pairtui 0.2 on."
TURN_HINT = "across networks you may need a TURN server (see docs/voice.md)"


@dataclass(frozen=True)
class VoiceNotice:
    """Something a person in the call should be told, as the app shows it."""

    text: str
    severity: Severity = "information"


class VoiceCall:
    """Join, leave, mute; who is heard and how loud."""

    def __init__(
        self,
        session: ClientSession,
        devices: AudioDevices,
        *,
        ice_servers: list[p.IceServer] | None = None,
        connect_timeout: float = 15.0,
        welcome_timeout: float = 10.0,
        on_notice: Callable[[VoiceNotice], None] | None = None,
    ) -> None:
        self.session = session
        self.devices = devices
        self.ice_servers = list(ice_servers or [])
        """Our own STUN/TURN servers, used before the relay's."""
        self.connect_timeout = connect_timeout
        self.welcome_timeout = welcome_timeout
        self.on_notice = on_notice or (lambda notice: None)
        self.status: CallStatus = "off"
        self.muted = False
        self.links: dict[str, PeerLink] = {}
        self.meters: dict[str, LevelMeter] = {}
        """A level meter per partner heard (by member id)."""
        self.own_meter = LevelMeter()
        self._input: AudioInput | None = None
        self._output: AudioOutput | None = None
        self._relay_ice: list[p.IceServer] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closing: set[asyncio.Task[None]] = set()
        self._changing = asyncio.Lock()
        self._resume = False
        self._silence_told = False
        session.subscribe(self._on_event)

    # -- what the app calls ------------------------------------------------------------

    async def join(self, muted: bool = False) -> bool:
        """Open the devices and enter the call; ``False`` (and a notice) if that cannot be."""
        async with self._changing:
            return self._join(muted)

    def _join(self, muted: bool) -> bool:
        if self.status != "off":
            return True
        self.muted = muted
        if self.session.status != "connected":
            self._tell("Voice needs the relay: wait until you are connected.", "warning")
            return False
        try:
            self._input = self.devices.open_input(self._captured)  # the one people miss most
            self._output = self.devices.open_output()
        except DeviceError as error:
            self._release_devices()
            self._tell(str(error), "error")
            return False
        self.own_meter = LevelMeter()
        self._silence_told = False
        self.status = "joining"
        self.session.join_voice(muted)
        self._spawn(self._expect_welcome())
        return True

    async def _expect_welcome(self) -> None:
        """A relay from before voice answers ``unknown_type``, or nothing we recognise."""
        await asyncio.sleep(self.welcome_timeout)
        if self.status == "joining":
            self._tell(f"Voice: the relay did not answer. {OLD_RELAY}", "error")
            await self._hang_up()

    async def leave(self) -> None:
        """Hang up on everyone and release the microphone and speaker."""
        self._resume = False
        if self.status != "off":
            self.session.leave_voice()
        await self._hang_up()

    async def close(self) -> None:
        """The app is quitting: leave, and stop listening to the session."""
        await self.leave()
        self.session.unsubscribe(self._on_event)

    def set_muted(self, muted: bool) -> None:
        if muted == self.muted:
            return
        self.muted = muted
        if self.status != "off":
            self.session.set_voice_muted(muted)

    def levels(self) -> dict[str, float]:
        """Each partner's speaking level (0 to 1) by member id, and ours under our id."""
        levels = {member: meter.level for member, meter in self.meters.items()}
        if self.session.member is not None and self.status != "off":
            levels[self.session.member] = 0.0 if self.muted else self.own_meter.level
        return levels

    # -- the session's events ----------------------------------------------------------------

    def _on_event(self, event: SessionEvent) -> None:
        if isinstance(event, VoiceWelcomed) and self.status == "joining":
            self.status = "on"
            self._relay_ice = event.ice_servers
            for member in event.peers:
                link = self._link(member)
                self._spawn(link.offer())
        elif isinstance(event, SignalReceived) and self.status == "on":
            signal = event.signal
            known = self.links.get(signal.member)
            if signal.kind == "offer":
                # Only newcomers offer, so an offer from a partner we have a call with means
                # their side started over: the old connection is dead, begin anew.
                if known is not None:
                    self._drop(signal.member)
                known = self._link(signal.member)
            if known is not None:
                known.receive(signal)
        elif isinstance(event, MembersChanged):
            for member in list(self.links):
                present = event.members.get(member)
                if present is None or present.voice is None:
                    self._drop(member)
        elif isinstance(event, StatusChanged):
            self._status_changed(event)
        elif isinstance(event, ErrorReceived) and event.ref == "voice_join":
            self._tell(f"Voice: {event.message}", "error")
            self._spawn(self._hang_up())
        elif self._relay_without_voice(event):
            self._tell(OLD_RELAY, "error")
            self._spawn(self._hang_up())

    def _relay_without_voice(self, event: SessionEvent) -> bool:
        """A relay from before voice answers ``voice_join`` with ``unknown_type``."""
        return (
            isinstance(event, ErrorReceived)
            and event.code == ErrorCode.UNKNOWN_TYPE
            and self.status == "joining"
        )

    def _status_changed(self, event: StatusChanged) -> None:
        if event.status == "connected" and self._resume:
            self._resume = False
            self._spawn(self._rejoin())
        elif event.status != "connected" and self.status != "off":
            self._resume = event.status == "reconnecting"
            self._tell(
                "Voice paused: the relay is out of reach; it resumes when you reconnect."
                if self._resume
                else "Voice ended: the session closed.",
                "warning",
            )
            self._spawn(self._hang_up())

    async def _rejoin(self) -> None:
        if await self.join(self.muted):
            self._tell("Voice resumed.")

    # -- audio -------------------------------------------------------------------------------

    def _captured(self, samples: Samples) -> None:
        """20 ms from the microphone: measure it, then send it (or silence) to every partner."""
        self.own_meter.update(samples)
        silent = self.own_meter.silent_frames >= SILENT_MICROPHONE_FRAMES
        if silent and not self.muted and not self._silence_told:
            self._silence_told = True
            self._tell(
                "Your microphone sends only silence: check it is not muted in your system, "
                "and that your terminal may use it (macOS: System Settings > Privacy & "
                "Security > Microphone).",
                "warning",
            )
        out = np.zeros_like(samples) if self.muted else samples
        for link in self.links.values():
            link.outgoing.push(out)

    def _on_track(self, link: PeerLink, track: MediaStreamTrack) -> None:
        if track.kind == "audio":
            self._spawn(self._listen(link.member, track))

    async def _listen(self, member: str, track: MediaStreamTrack) -> None:
        """Decode a partner's audio into our speaker, at the speaker's rate."""
        output = self._output
        if output is None:
            return
        resampler = av.AudioResampler(format="s16", layout="mono", rate=output.rate)
        meter = self.meters.setdefault(member, LevelMeter())
        first = True
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            assert isinstance(frame, av.AudioFrame)
            for converted in resampler.resample(frame):
                samples = converted.to_ndarray().reshape(-1).astype(np.int16, copy=False)
                meter.update(samples)
                output.play(member, samples)
            if first:
                first = False
                self._tell(f"You hear {self._name(member)}.")

    # -- the mesh ----------------------------------------------------------------------------

    def _link(self, member: str) -> PeerLink:
        assert self._input is not None
        link = PeerLink(
            member,
            rate=self._input.rate,
            ice_servers=self.ice_servers + self._relay_ice,
            send=self.session.signal,
            on_track=self._on_track,
            on_failed=self._failed,
            connect_timeout=self.connect_timeout,
        )
        self.links[member] = link
        return link

    def _failed(self, link: PeerLink, reason: str) -> None:
        self._tell(
            f"Could not reach {self._name(link.member)} for voice: {reason}; {TURN_HINT}.",
            "error",
        )
        self._drop(link.member)

    def _drop(self, member: str) -> None:
        """Hang up on one partner. The closing is never cancelled: a peer connection
        interrupted while closing would leave aiortc's tasks and sockets behind."""
        link = self.links.pop(member, None)
        self.meters.pop(member, None)
        if self._output is not None:
            self._output.forget(member)
        if link is not None:
            closing = asyncio.get_running_loop().create_task(link.close())
            self._closing.add(closing)
            closing.add_done_callback(self._closing.discard)

    async def _hang_up(self) -> None:
        """Close every link, stop every task but the caller, release the devices.

        Joining waits for a hang-up in progress (``_changing``): a quick reconnect must
        not open the devices that the hang-up is about to close."""
        async with self._changing:
            await self._hang_up_now()

    async def _hang_up_now(self) -> None:
        self.status = "off"
        for member in list(self.links):
            self._drop(member)
        self.meters.clear()
        current = asyncio.current_task()
        pending = [task for task in self._tasks if task is not current]
        for task in pending:
            task.cancel()
        try:
            # Shielded: whoever cancels the hang-up (an app shutting down) must not
            # interrupt the peer connections' closing halfway.
            await asyncio.shield(asyncio.gather(*pending, *self._closing, return_exceptions=True))
        finally:
            self._release_devices()

    def _release_devices(self) -> None:
        for device in (self._input, self._output):
            if device is not None:
                try:
                    device.close()
                except Exception as error:  # a device unplugged mid-call must not stop the hang-up
                    log.warning("closing an audio device failed: %r", error)
        self._input = self._output = None

    # -- helpers -------------------------------------------------------------------------

    def _spawn(self, work: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("voice task failed", exc_info=task.exception())

    def _name(self, member: str) -> str:
        known = self.session.members.get(member)
        return known.name if known else "your partner"

    def _tell(self, text: str, severity: Severity = "information") -> None:
        self.on_notice(VoiceNotice(text, severity))
