"""A room's voice call as the relay sees it: who is in it, and where signalling may go.

The audio itself never touches the relay: it flows peer to peer over
WebRTC. The relay only keeps the call's roster and passes SDP offers,
answers and ICE candidates between two members who are both in the call,
which is the whole of its part in keeping a call private to the room.
Nothing here does I/O; ``server/room.py`` turns the answers into messages.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pairtui.core import protocol as p
from pairtui.core.protocol import ErrorCode, ProtocolError
from server.limits import RateLimit, TokenBucket

SIGNAL_RATE = RateLimit(rate=20.0, burst=60.0, flood=1_000_000)
"""A call with three others needs about a dozen signals to start; this leaves room for ICE
restarts while keeping anyone from using the relay as a free pipe."""


@dataclass
class _InCall:
    muted: bool
    signals: TokenBucket


@dataclass
class VoiceCall:
    """The members in a room's call, in the order they joined it."""

    max_peers: int = p.MAX_VOICE_PEERS
    signal_rate: RateLimit = SIGNAL_RATE
    members: dict[str, _InCall] = field(default_factory=dict)

    def state_of(self, member: str) -> p.VoiceState | None:
        """What the people panel shows for ``member``: in the call, muted, or neither."""
        in_call = self.members.get(member)
        if in_call is None:
            return None
        return "muted" if in_call.muted else "on"

    def join(self, member: str, muted: bool, now: float) -> list[str]:
        """Add ``member``; returns the members already in the call, whom they must offer to."""
        if member in self.members:
            self.members[member].muted = muted
            return [m for m in self.members if m != member]
        if len(self.members) >= self.max_peers:
            raise ProtocolError(
                ErrorCode.VOICE_FULL,
                f"the call is full: voice is a mesh of at most {self.max_peers} people",
            )
        peers = list(self.members)
        self.members[member] = _InCall(muted, TokenBucket(self.signal_rate, now))
        return peers

    def leave(self, member: str) -> bool:
        """Remove ``member``; ``False`` if they were not in the call."""
        return self.members.pop(member, None) is not None

    def mute(self, member: str, muted: bool) -> None:
        self._caller(member).muted = muted

    def route(self, sender: str, signal: p.Signal, now: float, in_room: bool) -> p.SignalRelayed:
        """The message to hand to ``signal.to``, or the reason it may not go there.

        ``in_room`` says whether ``signal.to`` is a member of this room at all,
        so that an outsider's id gets the same answer as one that never existed.
        """
        p.check_signal(signal)
        caller = self._caller(sender)
        if not in_room or signal.to == sender:
            raise ProtocolError(
                ErrorCode.UNKNOWN_MEMBER, f"no other member {signal.to!r} is in this room"
            )
        if signal.to not in self.members:
            raise ProtocolError(
                ErrorCode.NOT_IN_VOICE, f"{signal.to!r} is not in the call; signal only peers"
            )
        if not caller.signals.allow(now):
            raise ProtocolError(
                ErrorCode.RATE_LIMITED,
                f"slow down: at most {self.signal_rate.rate:g} signals a second "
                f"(bursts of {self.signal_rate.burst:g}); this one was not passed on",
            )
        return p.SignalRelayed(
            member=sender,
            kind=signal.kind,
            sdp=signal.sdp,
            candidate=signal.candidate,
            mid=signal.mid,
        )

    def _caller(self, member: str) -> _InCall:
        in_call = self.members.get(member)
        if in_call is None:
            raise ProtocolError(ErrorCode.NOT_IN_VOICE, "join the call (voice_join) first")
        return in_call
