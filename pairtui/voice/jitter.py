"""The audio jitter buffer pairtui puts in aiortc's receivers: a lost packet costs 20 ms, no more.

aiortc's own audio buffer holds 4 packets (80 ms) before it plays one, and
when a packet is lost it waits for 15 more before giving up on it, then
plays on 14 packets late: after the first lost packet on a real network,
everything a partner says arrives about 300 ms late for the rest of the
call (``tests/voice/test_jitter.py`` shows both). This one plays a packet
once ``depth`` newer ones have arrived and skips a missing one at that same
point, so the delay stays ``depth`` packets whatever is lost. Evening out
the timing of arrivals is the speaker's job (``Mixer``), which waits for a
little audio before it starts a partner.

One Opus RTP packet is one 20 ms frame, so packets are frames here.
"""

from __future__ import annotations

import logging

from aiortc.jitterbuffer import JitterFrame
from aiortc.rtcrtpreceiver import RTCRtpReceiver
from aiortc.rtp import RtpPacket

log = logging.getLogger(__name__)

DEFAULT_DEPTH = 2
"""40 ms: a packet that comes one place out of order is still played."""
RESTART_GAP = 100
"""Sequence numbers this far ahead mean the sender started over: begin again from there."""
_MANGLED = "_RTCRtpReceiver__jitter_buffer"


def _ahead(seq: int, of: int) -> int:
    """How far ``seq`` is after ``of`` on the 16-bit sequence circle (negative: before)."""
    delta = (seq - of) & 0xFFFF
    return delta - 0x10000 if delta >= 0x8000 else delta


class AudioJitterBuffer:
    """Orders packets and plays each once ``depth`` newer ones are in; a gap is skipped then.

    The interface is aiortc's ``JitterBuffer.add``: each packet in, at most one
    frame out, and ``False`` for "send a picture-loss request" (video only).
    """

    def __init__(self, depth: int = DEFAULT_DEPTH) -> None:
        self.depth = depth
        self._held: dict[int, RtpPacket] = {}
        self._next: int | None = None  # the sequence number to play next
        self._newest: int | None = None
        self.skipped = 0
        self.late = 0

    def add(self, packet: RtpPacket) -> tuple[bool, JitterFrame | None]:
        seq = packet.sequence_number
        if self._next is None or self._newest is None or _ahead(seq, self._newest) > RESTART_GAP:
            self._held.clear()
            self._next = self._newest = seq
        if _ahead(seq, self._next) < 0 or seq in self._held:
            self.late += 1  # its moment has passed (or a duplicate): playing it would jump back
            return False, None
        self._held[seq] = packet
        if _ahead(seq, self._newest) > 0:
            self._newest = seq
        return False, self._play()

    def _play(self) -> JitterFrame | None:
        assert self._next is not None and self._newest is not None
        while _ahead(self._newest, self._next) >= self.depth:
            packet = self._held.pop(self._next, None)
            self._next = (self._next + 1) & 0xFFFF
            if packet is not None:
                return JitterFrame(data=packet._data, timestamp=packet.timestamp)  # type: ignore[attr-defined]
            self.skipped += 1  # lost: Opus carries on from the next one
        return None


def install(receiver: RTCRtpReceiver, depth: int = DEFAULT_DEPTH) -> bool:
    """Put an ``AudioJitterBuffer`` in ``receiver``; ``False`` if this aiortc has no place for it.

    aiortc gives no way to choose its buffer, so this replaces a private
    attribute; the test suite checks that the pinned aiortc still has it.
    """
    if receiver.track is not None and receiver.track.kind != "audio":
        return False
    if not hasattr(receiver, _MANGLED):
        log.warning("this aiortc has no jitter buffer where pairtui expects one; keeping its own")
        return False
    if not isinstance(getattr(receiver, _MANGLED), AudioJitterBuffer):
        setattr(receiver, _MANGLED, AudioJitterBuffer(depth))
    return True
