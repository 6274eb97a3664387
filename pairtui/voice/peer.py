"""One partner in the call: a WebRTC peer connection carrying our audio out and theirs in.

The mesh is a ``PeerLink`` per partner. A link turns the relay's signals
into aiortc calls, one at a time and in arrival order (an ICE candidate
must not overtake the offer it belongs to), and reports when the partner
is heard, or could not be reached at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import logging
from collections.abc import Callable

import av
from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError
from aiortc.sdp import candidate_from_sdp

from pairtui.core import protocol as p
from pairtui.voice import jitter
from pairtui.voice.audio import Samples

log = logging.getLogger(__name__)

QUEUED_FRAMES = 5
"""Audio waiting to be encoded: 100 ms. Beyond that the oldest goes, so we never lag behind."""

Failed = Callable[["PeerLink", str], None]


class OutgoingAudio(MediaStreamTrack):
    """Our microphone as one partner's aiortc sender reads it, frame by frame."""

    kind = "audio"

    def __init__(self, rate: int) -> None:
        super().__init__()
        self.rate = rate
        self._queue: asyncio.Queue[Samples] = asyncio.Queue(QUEUED_FRAMES)
        self._pts = 0
        self._time_base = fractions.Fraction(1, rate)

    def push(self, samples: Samples) -> None:
        if self._queue.full():
            self._queue.get_nowait()
        self._queue.put_nowait(samples)

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        samples = await self._queue.get()
        frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = self.rate
        frame.pts = self._pts
        frame.time_base = self._time_base
        self._pts += samples.size
        return frame


def rtc_configuration(servers: list[p.IceServer]) -> RTCConfiguration:
    """An explicit list, even when empty: aiortc would otherwise ask a public STUN server."""
    return RTCConfiguration(
        iceServers=[
            RTCIceServer(urls=list(s.urls), username=s.username, credential=s.credential)
            for s in servers
        ]
    )


class PeerLink:
    """The call with one partner, ``member``."""

    def __init__(
        self,
        member: str,
        *,
        rate: int,
        ice_servers: list[p.IceServer],
        send: Callable[[p.Signal], object],
        on_track: Callable[[PeerLink, MediaStreamTrack], None],
        on_failed: Failed,
        connect_timeout: float,
        jitter_depth: int = jitter.DEFAULT_DEPTH,
    ) -> None:
        self.member = member
        self.jitter_depth = jitter_depth
        self.outgoing = OutgoingAudio(rate)
        self.connection = RTCPeerConnection(rtc_configuration(ice_servers))
        self.connection.addTrack(self.outgoing)
        self._own_jitter_buffers()
        self._send = send
        self._on_failed = on_failed
        self._signals: asyncio.Queue[p.SignalRelayed | None] = asyncio.Queue()
        self._closed = False
        self.connected = asyncio.Event()
        self.connection.on("track", lambda track: on_track(self, track))
        self.connection.on("connectionstatechange", self._state_changed)
        self._worker = asyncio.create_task(self._handle_signals(), name=f"voice:signals:{member}")
        self._watchdog = asyncio.create_task(
            self._expect_connection(connect_timeout), name=f"voice:connect:{member}"
        )

    async def offer(self) -> None:
        """We are the newcomer: start the call with this partner."""
        await self.connection.setLocalDescription(await self.connection.createOffer())
        self._signal("offer", self.connection.localDescription.sdp)

    def receive(self, signal: p.SignalRelayed) -> None:
        self._signals.put_nowait(signal)

    async def close(self) -> None:
        """Hang up: stops our track, aiortc's receiver threads and the sockets."""
        if self._closed:
            return
        self._closed = True
        self.outgoing.stop()
        self._watchdog.cancel()
        self._signals.put_nowait(None)
        with contextlib.suppress(asyncio.CancelledError):
            await self._worker
        with contextlib.suppress(asyncio.CancelledError):
            await self._watchdog
        await self.connection.close()

    async def _handle_signals(self) -> None:
        while (signal := await self._signals.get()) is not None:
            try:
                await self._apply(signal)
            except Exception as error:
                # aiortc's parsers raise whatever they meet (ValueError, IndexError,
                # AssertionError, InvalidStateError, ...) on SDP or candidates they cannot
                # use: the partner's app is broken or hostile, and only this link ends.
                log.warning("bad signal from %s: %r", self.member, error)
                self._fail(f"their app sent a {signal.kind} pairtui cannot use ({error})")
                return

    async def _apply(self, signal: p.SignalRelayed) -> None:
        if signal.kind == "offer":
            assert signal.sdp is not None
            await self.connection.setRemoteDescription(RTCSessionDescription(signal.sdp, "offer"))
            self._own_jitter_buffers()
            await self.connection.setLocalDescription(await self.connection.createAnswer())
            self._signal("answer", self.connection.localDescription.sdp)
        elif signal.kind == "answer":
            assert signal.sdp is not None
            await self.connection.setRemoteDescription(RTCSessionDescription(signal.sdp, "answer"))
            self._own_jitter_buffers()
        elif signal.candidate:
            candidate = candidate_from_sdp(signal.candidate.removeprefix("candidate:"))
            candidate.sdpMid = signal.mid
            candidate.sdpMLineIndex = 0 if signal.mid is None else None
            await self.connection.addIceCandidate(candidate)
        else:
            await self.connection.addIceCandidate(None)  # the partner has no more candidates

    def _own_jitter_buffers(self) -> None:
        """Before any audio arrives: see ``jitter.py`` for why not aiortc's."""
        for transceiver in self.connection.getTransceivers():
            jitter.install(transceiver.receiver, self.jitter_depth)

    def _signal(self, kind: p.SignalKind, sdp: str) -> None:
        self._send(p.Signal(to=self.member, kind=kind, sdp=sdp))

    def _state_changed(self) -> None:
        state = self.connection.connectionState
        if state == "connected":
            self.connected.set()
        elif state == "failed":
            self._fail("no network path between you")

    async def _expect_connection(self, timeout: float) -> None:
        try:
            await asyncio.wait_for(self.connected.wait(), timeout)
        except TimeoutError:
            self._fail(f"no answer within {timeout:g} s")

    def _fail(self, reason: str) -> None:
        if not self._closed:
            self._on_failed(self, reason)
