"""The client's sync state machine for one file.

Rule: everything that affects a client's sync state for a file lives in this
file. Nothing here does I/O: messages to send are pushed onto a list that the
I/O layer drains with ``data_to_send()``, and what the editor must do is
pushed onto another, drained with ``events_received()`` (websockets' sans-I/O
pattern).

The states are ot.js's three::

    Synchronized --local edit--> AwaitingConfirm --local edit--> AwaitingWithBuffer
         ^                           |      ^                          |
         +----------ack--------------+      +-----------ack------------+
                                               (the buffer is sent)

Two rules come from ShareDB's history of lost edits:

* an op that was sent is never composed with newer edits (ShareDB #327): after
  a reconnect it is resent unchanged in content and with the same ``seq``, and
  the relay acknowledges a duplicate instead of applying it twice;
* a client that fell too far behind keeps its unsent edits (ShareDB #355): it
  rebases them onto a fresh snapshot instead of dropping them.

When a remote op arrives while ops of ours are pending, the diamond is::

          server text
     outstanding / \\ remote
               /   \\
               \\   /
       remote'  \\ / outstanding'
           new server text

and the same again with the buffer, so that what the editor applies is the
remote op transformed past everything we have not had confirmed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

from pairtui.core import protocol
from pairtui.core.diff import diff_operation
from pairtui.core.ot import TextOperation


class SyncError(Exception):
    """The relay broke the protocol's ordering promise (a bug, not bad luck).

    The I/O layer answers it by reconnecting, which resynchronizes the file.
    """


@dataclass(frozen=True)
class InFlight:
    """Our op with its ``seq``, sent (or to be sent) to the relay and not yet acknowledged.

    ``op`` applies to the text at the engine's current ``revision``: it is
    transformed as remote ops arrive, but never composed with newer edits.
    """

    seq: int
    op: TextOperation


@dataclass(frozen=True)
class Synchronized:
    """Nothing of ours is pending."""


@dataclass(frozen=True)
class AwaitingConfirm:
    """One op of ours is in flight."""

    outstanding: InFlight


@dataclass(frozen=True)
class AwaitingWithBuffer:
    """One op in flight, plus newer local edits composed into a buffer not yet sent."""

    outstanding: InFlight
    buffer: TextOperation


State: TypeAlias = Synchronized | AwaitingConfirm | AwaitingWithBuffer


@dataclass(frozen=True)
class RemoteChange:
    """Apply ``op`` to the editor's document: it fits the local text as it is now.

    ``revision`` is the relay's revision the change brings the file to.
    """

    op: TextOperation
    member: str | None
    revision: int = 0


@dataclass(frozen=True)
class Confirmed:
    """The relay stored our op ``seq``; it became ``revision``."""

    seq: int
    revision: int


@dataclass(frozen=True)
class RetryLater:
    """The relay did not take op ``seq`` for now (rate limit): call ``resend`` after a pause."""

    seq: int


Event: TypeAlias = RemoteChange | Confirmed | RetryLater
RETRYABLE = frozenset({protocol.ErrorCode.RATE_LIMITED, protocol.ErrorCode.STORAGE_UNAVAILABLE})


class FileSync:
    """Keeps one file's local text in step with the relay's, with edits never lost."""

    def __init__(
        self,
        file: str,
        *,
        text: str,
        revision: int,
        next_seq: int = 1,
        connected: bool = True,
        server_text: str | None = None,
        pending: tuple[TextOperation | None, TextOperation | None] = (None, None),
    ) -> None:
        """Start from a snapshot, or from a journal: ``pending`` is (outstanding, buffer).

        ``server_text`` is the text at ``revision`` (defaults to ``text``);
        pending ops apply to it one after the other and give ``text``.
        """
        self.file = file
        self.text = text
        self.revision = revision
        self.server_text = text if server_text is None else server_text
        self.next_seq = next_seq
        self.connected = connected
        self._catching_up = False
        self._to_send: list[protocol.ClientMessage] = []
        self._events: list[Event] = []
        outstanding, buffer = pending
        self.state: State = Synchronized()
        if outstanding is not None:
            self.state = AwaitingConfirm(self._new_in_flight(outstanding))
            if buffer is not None:
                self.state = AwaitingWithBuffer(self.state.outstanding, buffer)
        elif buffer is not None:
            raise ValueError("a buffer cannot be pending without an outstanding op")

    # -- draining -------------------------------------------------------------

    def data_to_send(self) -> list[protocol.ClientMessage]:
        """Messages for the relay, oldest first; the list is emptied."""
        messages, self._to_send = self._to_send, []
        return messages

    def events_received(self) -> list[Event]:
        """What the editor must do, oldest first; the list is emptied."""
        events, self._events = self._events, []
        return events

    # -- queries --------------------------------------------------------------

    @property
    def outstanding(self) -> InFlight | None:
        """The op in flight, if any."""
        state = self.state
        return None if isinstance(state, Synchronized) else state.outstanding

    @property
    def buffer(self) -> TextOperation | None:
        """Local edits composed and not yet sent, if any."""
        state = self.state
        return state.buffer if isinstance(state, AwaitingWithBuffer) else None

    @property
    def has_pending(self) -> bool:
        """True while some local edit is not yet durably stored by the relay."""
        return not isinstance(self.state, Synchronized)

    # -- events in ------------------------------------------------------------

    def local_edit(self, op: TextOperation) -> None:
        """The user changed the text; ``op`` applies to ``self.text``."""
        self.text = op.apply(self.text)
        if op.is_noop():
            return
        state = self.state
        if isinstance(state, Synchronized):
            self.state = AwaitingConfirm(self._new_in_flight(op))
            self._send_outstanding()
        elif isinstance(state, AwaitingConfirm):
            self.state = AwaitingWithBuffer(state.outstanding, op)
        else:
            self.state = AwaitingWithBuffer(state.outstanding, state.buffer.compose(op))

    def receive(self, message: protocol.ServerMessage) -> None:
        """Feed a relay message about this file (ack, remote op, catch-up, snapshot)."""
        if isinstance(message, protocol.Ack):
            self._acknowledged(message.seq, message.revision)
        elif isinstance(message, protocol.RemoteOp):
            self._remote(protocol.parse_operation(message.op), message.revision, message.member)
        elif isinstance(message, protocol.Catchup):
            self._catchup(message)
        elif isinstance(message, protocol.Snapshot):
            self._snapshot(message)
        elif isinstance(message, protocol.Error):
            self._refused(message)

    def disconnected(self) -> None:
        """The connection dropped: keep everything, send nothing until reconnected."""
        self.connected = False
        self._catching_up = False

    def reconnected(self) -> None:
        """A new connection has joined the room: ask for what we missed, then resend."""
        self.connected = True
        self._catching_up = True
        self._to_send.append(protocol.Open(file=self.file, since=self.revision))

    # -- transitions ------------------------------------------------------------

    def _acknowledged(self, seq: int, revision: int) -> None:
        outstanding = self.outstanding
        if outstanding is None or seq != outstanding.seq:
            return  # a repeated ack for a resend we already had confirmed
        self._expect_next_revision(revision)
        self.server_text = outstanding.op.apply(self.server_text)
        self.revision = revision
        self._events.append(Confirmed(seq, revision))
        state = self.state
        if isinstance(state, AwaitingWithBuffer):
            self.state = AwaitingConfirm(self._new_in_flight(state.buffer))
            self._send_outstanding()
        else:
            self.state = Synchronized()

    def _remote(self, op: TextOperation, revision: int, member: str | None) -> None:
        self._expect_next_revision(revision)
        self.server_text = op.apply(self.server_text)
        self.revision = revision
        state = self.state
        if isinstance(state, AwaitingConfirm):
            outstanding, op = TextOperation.transform(state.outstanding.op, op)
            self.state = AwaitingConfirm(InFlight(state.outstanding.seq, outstanding))
        elif isinstance(state, AwaitingWithBuffer):
            outstanding, op = TextOperation.transform(state.outstanding.op, op)
            buffer, op = TextOperation.transform(state.buffer, op)
            self.state = AwaitingWithBuffer(InFlight(state.outstanding.seq, outstanding), buffer)
        self.text = op.apply(self.text)
        self._events.append(RemoteChange(op, member, revision))

    def _catchup(self, message: protocol.Catchup) -> None:
        for entry in message.ops:
            if entry.seq is not None:  # our own op: the relay had it, its ack was lost
                outstanding = self.outstanding
                if outstanding is None or entry.seq != outstanding.seq:
                    raise SyncError(
                        f"{self.file}: catch-up names our op {entry.seq}, which is not in flight"
                    )
                self._acknowledged(entry.seq, entry.revision)
            else:
                self._remote(protocol.parse_operation(entry.op), entry.revision, entry.member)
        if message.revision != self.revision:
            raise SyncError(
                f"{self.file}: catch-up ends at {message.revision}, we are at {self.revision}"
            )
        self._catching_up = False
        self._send_outstanding()

    def _snapshot(self, message: protocol.Snapshot) -> None:
        """Rebase whatever is pending onto the relay's text (history was not enough)."""
        outstanding, buffer = self.outstanding, self.buffer
        base_text = self.server_text
        pending = buffer
        if outstanding is not None and message.applied_seq >= outstanding.seq:
            base_text = outstanding.op.apply(base_text)  # the relay has it already
        elif outstanding is not None:
            pending = outstanding.op if buffer is None else outstanding.op.compose(buffer)
        change = diff_operation(base_text, message.text)
        self.server_text = message.text
        self.revision = message.revision
        self._catching_up = False
        if pending is None:
            self.state = Synchronized()
        else:
            pending, change = TextOperation.transform(pending, change)
            self.state = AwaitingConfirm(self._new_in_flight(pending))
        self.text = change.apply(self.text)
        if not change.is_noop():
            self._events.append(RemoteChange(change, None, message.revision))
        self._send_outstanding()

    def _refused(self, message: protocol.Error) -> None:
        """Our op was refused: wait and resend it, or rebase our edits onto the relay's text."""
        outstanding = self.outstanding
        if outstanding is None or message.seq != outstanding.seq or self._catching_up:
            return  # not about our op in flight, or a resync is already on its way
        if message.code in RETRYABLE:
            self._events.append(RetryLater(outstanding.seq))
            return
        self._catching_up = True
        self._to_send.append(protocol.Open(file=self.file))

    def resend(self) -> None:
        """Send the op in flight again, same seq (after ``RetryLater``)."""
        self._send_outstanding()

    # -- helpers ----------------------------------------------------------------

    def _new_in_flight(self, op: TextOperation) -> InFlight:
        in_flight = InFlight(self.next_seq, op)
        self.next_seq += 1
        return in_flight

    def _send_outstanding(self) -> None:
        outstanding = self.outstanding
        if outstanding is None or not self.connected or self._catching_up:
            return
        self._to_send.append(
            protocol.Op(
                file=self.file,
                revision=self.revision,
                seq=outstanding.seq,
                op=outstanding.op.to_json(),
            )
        )

    def _expect_next_revision(self, revision: int) -> None:
        if revision != self.revision + 1:
            raise SyncError(
                f"{self.file}: expected revision {self.revision + 1} from the relay, got {revision}"
            )
