"""The asyncio client session: the one client implementation.

The terminal app, the load generator and any bot drive a ``ClientSession``:
it connects, joins, opens files, turns local edits into ops through
``core/sync.py``, applies remote ops, and keeps presence and chat. When the
connection drops it reconnects by itself with exponential backoff and
jitter; each file's sync engine resends what was in flight once it has
caught up, so no edit is lost or applied twice.

What happens is reported to subscribers as ``SessionEvent``s, in order
(``pairtui/events.py``; re-exported here).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import secrets
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import msgspec
from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.connection import broadcast
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from pairtui.core import protocol as p
from pairtui.core.ot import TextOperation, transform_index
from pairtui.core.protocol import ErrorCode
from pairtui.core.sync import Confirmed, FileSync, RemoteChange, RetryLater, SyncError
from pairtui.events import (
    ChatReceived,
    ConnectionStatus,
    EditStored,
    ErrorReceived,
    FileChanged,
    FileOpened,
    FilesListed,
    KeysReceived,
    MembersChanged,
    SessionEvent,
    SignalReceived,
    StatusChanged,
    SummonReceived,
    VoiceWelcomed,
)
from pairtui.journal import Journal

FATAL_CODES = {ErrorCode.BAD_KEY, ErrorCode.UNSUPPORTED_PROTOCOL, ErrorCode.REMOVED}
JOURNAL_DELAY = 0.5
RETRY_DELAY = 0.5  # after the relay's rate limit refused an edit


def new_client_id() -> str:
    """A fresh client id: 128 random bits, URL-safe."""
    return secrets.token_urlsafe(16)


@dataclass(frozen=True)
class Backoff:
    """Reconnect delays: ``base * 2**attempt`` capped at ``cap``, times a random 0.5 to 1."""

    base: float = 0.25
    cap: float = 10.0

    def delay(self, attempt: int, rng: random.Random) -> float:
        return float(min(self.cap, self.base * 2.0**attempt) * rng.uniform(0.5, 1.0))


class SessionClosed(Exception):
    """The session ended for good (closed, or the relay refused it for a reason to show)."""


@dataclass
class _Opening:
    waiter: asyncio.Future[FileSync] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class ClientSession:
    """One person in one room, kept connected."""

    def __init__(
        self,
        url: str,
        room: str,
        name: str,
        *,
        client_id: str | None = None,
        color: str | None = None,
        key: str | None = None,
        backoff: Backoff | None = None,
        open_timeout: float = 10.0,
        seed: int | None = None,
        journal: Journal | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.url = url
        self.room = room
        self.name = name
        self.journal = journal
        self.client_id = client_id or (journal.client_id() if journal else new_client_id())
        self.color = color
        self.key = key
        self.ssl_context = ssl_context
        self.backoff = backoff or Backoff()
        self.open_timeout = open_timeout
        self.status: ConnectionStatus = "connecting"
        self.member: str | None = None
        self.role: p.Role = "write"
        self.files: list[p.FileInfo] = []
        self.members: dict[str, p.Member] = {}
        self.chat: list[p.ChatMessage] = []
        self.syncs: dict[str, FileSync] = {}
        self.rtt: float | None = None
        self.reconnects = 0
        self._opening: dict[str, _Opening] = {}
        self._subscribers: list[Callable[[SessionEvent], None]] = []
        self._connection: ClientConnection | None = None
        self._welcomed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self._fatal: str | None = None
        self.fatal_code: ErrorCode | None = None
        self._presence: p.SetPresence | None = None
        self._presence_held = False
        self._rng = random.Random(seed)
        self._pings: dict[int, float] = {}
        self._ping_ids = 0
        self._unjournaled: set[str] = set()
        self._journal_timer: asyncio.TimerHandle | None = None
        if journal is not None:
            for restored in journal.load():
                self.syncs[restored.file] = restored.sync

    @property
    def fatal_reason(self) -> str | None:
        """Why the relay refused this session for good (``None`` while it may go on)."""
        return self._fatal

    # -- life cycle -------------------------------------------------------------------

    def subscribe(self, callback: Callable[[SessionEvent], None]) -> None:
        """Call ``callback`` with every event, in order, on the event loop."""
        self._subscribers.append(callback)

    def unsubscribe(self, callback: Callable[[SessionEvent], None]) -> None:
        """Stop calling ``callback`` (an app shutting down)."""
        if callback in self._subscribers:
            self._subscribers.remove(callback)

    async def start(self, *, wait: bool = True) -> None:
        """Connect in the background; with ``wait``, return once the room is joined."""
        self._task = asyncio.create_task(self._run(), name=f"session:{self.name}")
        if wait:
            await self.wait_joined()

    async def wait_joined(self, timeout: float | None = None) -> None:
        """Wait until joined; raise ``SessionClosed`` if the relay refuses us for good."""
        waiter = asyncio.create_task(self._welcomed.wait())
        assert self._task is not None
        done, _ = await asyncio.wait(
            {waiter, self._task}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
        )
        waiter.cancel()
        if self._fatal is not None:
            raise SessionClosed(self._fatal)
        if not done:
            raise TimeoutError(f"could not join {self.room!r} at {self.url}")

    async def close(self) -> None:
        self.flush_journal()
        self._closed = True
        if self._connection is not None:
            await self._connection.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._set_status("closed")

    # -- files and edits ----------------------------------------------------------------

    async def open(self, file: str) -> FileSync:
        """Open ``file`` (or return it if open) and wait for its text."""
        if file in self.syncs:
            return self.syncs[file]
        opening = self._opening.get(file)
        if opening is None:
            opening = self._opening[file] = _Opening()
            self._send(p.Open(file=file))
        return await opening.waiter

    def file_id(self, path: str) -> str | None:
        return next((f.file for f in self.files if f.path == path), None)

    def edit(self, file: str, op: TextOperation, *, source: str | None = None) -> None:
        """Apply a local edit to ``file`` (it must fit the file's current text) and send it.

        With ``source`` (say, folder sync), subscribers hear of the edit as a
        ``FileChanged`` carrying that source, so the other local views of the
        file (the editor) apply it too; the component that made it skips it.
        """
        sync = self.syncs[file]
        sync.local_edit(op)
        self._move_cursors(file, op, author=self.member)
        self._flush(sync)
        self._journal(sync)
        if source is not None:
            self._emit(FileChanged(file, op, self.member, source))

    def replace(self, file: str, position: int, deleted: int, inserted: str) -> TextOperation:
        """Convenience: replace ``deleted`` code points at ``position`` with ``inserted``."""
        op = TextOperation.from_edit(len(self.syncs[file].text), position, deleted, inserted)
        self.edit(file, op)
        return op

    @property
    def pending(self) -> int:
        """How many files have edits the relay has not yet stored."""
        return sum(sync.has_pending for sync in self.syncs.values())

    async def wait_synced(self, timeout: float = 10.0) -> None:
        """Wait until every local edit is stored by the relay."""
        deadline = time.monotonic() + timeout
        while self.pending or self.status != "connected":
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.name}: edits still pending after {timeout} s")
            await asyncio.sleep(0.01)

    # -- room actions --------------------------------------------------------------------

    def set_presence(self, presence: p.SetPresence) -> None:
        """Tell the room where I am; my measured round trip goes with it."""
        presence = msgspec.structs.replace(presence, rtt=self._rtt_ms())
        self._presence = presence
        sync = self.syncs.get(presence.file) if presence.file is not None else None
        if sync is not None and sync.buffer is not None:
            # The cursor counts edits still waiting to be sent; the relay would clamp it to
            # a text without them. It goes right after them (see ``_flush``).
            self._presence_held = True
            return
        self._presence_held = False
        self._send(presence)

    def send_chat(self, text: str) -> bool:
        """Post to the room's chat; ``False`` when offline (chat is not kept for later)."""
        return self._send(p.SendChat(text=text))

    def create_file(self, path: str, text: str = "") -> None:
        self._send(p.CreateFile(path=path, text=text))

    def rename_file(self, file: str, path: str) -> None:
        self._send(p.RenameFile(file=file, path=path))

    def delete_file(self, file: str) -> None:
        self._send(p.DeleteFile(file=file))

    def summon(self) -> None:
        self._send(p.Summon())

    def rotate_keys(self) -> bool:
        """Ask for new room keys (writers only); they arrive as ``KeysReceived``."""
        return self._send(p.RotateKeys())

    def remove_member(self, member: str) -> bool:
        """Disconnect ``member`` from the room (writers only)."""
        return self._send(p.RemoveMember(member=member))

    def join_voice(self, muted: bool = False) -> bool:
        """Enter the room's call; ``VoiceWelcomed`` says whom to offer to."""
        return self._send(p.VoiceJoin(muted=muted))

    def leave_voice(self) -> bool:
        return self._send(p.VoiceLeave())

    def set_voice_muted(self, muted: bool) -> bool:
        return self._send(p.VoiceMute(muted=muted))

    def signal(self, message: p.Signal) -> bool:
        """WebRTC signalling for one peer in the call, passed on by the relay."""
        return self._send(message)

    def ping(self) -> None:
        self._ping_ids += 1
        self._pings[self._ping_ids] = time.monotonic()
        self._send(p.Ping(id=self._ping_ids))

    def send_raw(self, frame: str | bytes) -> None:
        """Send a frame as is (tests of the relay's handling of bad input use this)."""
        if self._connection is not None:
            broadcast([self._connection], frame)

    # -- the connection loop -----------------------------------------------------------------

    async def _run(self) -> None:
        attempt = 0
        while not self._closed:
            reason = "connection lost"
            try:
                async with connect(
                    self.url,
                    ssl=self.ssl_context if self.url.startswith("wss:") else None,
                    open_timeout=self.open_timeout,
                    max_size=None,
                    compression=None,
                    ping_interval=20,
                    ping_timeout=20,
                ) as connection:
                    self._connection = connection
                    await self._session(connection)
                    attempt = 0
            except ssl.SSLCertVerificationError as error:
                self._fatal = _describe(error, self.url)  # retrying will not make it trusted
            except (OSError, ConnectionClosed, InvalidHandshake, TimeoutError) as error:
                reason = _describe(error, self.url)
            except (InvalidURI, SessionClosed) as error:
                self._fatal = self._fatal or str(error)
                self._set_status("closed", reason=self._fatal)
                return
            finally:
                self._connection = None
                for sync in self.syncs.values():
                    sync.disconnected()
                    if sync.has_pending:
                        self._unjournaled.add(sync.file)
                self.flush_journal()
            if self._fatal is not None:
                self._set_status("closed", reason=self._fatal)
                return
            if self._closed:
                return
            delay = self.backoff.delay(attempt, self._rng)
            attempt += 1
            self.reconnects += 1
            self._set_status("reconnecting", retry_at=time.monotonic() + delay, reason=reason)
            await asyncio.sleep(delay)

    async def _session(self, connection: ClientConnection) -> None:
        join = p.Join(
            protocol=p.PROTOCOL_VERSION,
            room=self.room,
            name=self.name,
            client_id=self.client_id,
            key=self.key,
            color=self.color,
        )
        await connection.send(p.encode(join), text=True)
        async for frame in connection:
            try:
                message = p.decode_server(frame)
            except p.ProtocolError:
                continue  # a newer relay's message we do not know: ignore it
            try:
                self._receive(message)
            except SyncError:
                await connection.close(1011, "resynchronizing")
                return

    def _receive(self, message: p.ServerMessage) -> None:
        if isinstance(message, p.Welcome):
            self._welcome(message)
        elif isinstance(message, (p.Ack, p.RemoteOp, p.Catchup, p.Snapshot)):
            self._file_message(message)
        elif isinstance(message, p.FileList):
            self.files = list(message.files)
            known = {f.file for f in self.files}
            for gone in [f for f in self.syncs if f not in known]:
                del self.syncs[gone]
            self._emit(FilesListed(self.files))
        elif isinstance(message, (p.MemberJoined, p.PresenceChanged)):
            self.members[message.member.member] = message.member
            self._emit(MembersChanged(dict(self.members)))
        elif isinstance(message, p.MemberLeft):
            self.members.pop(message.member, None)
            self._emit(MembersChanged(dict(self.members)))
        elif isinstance(message, p.ChatPosted):
            self.chat.append(message.message)
            self._emit(ChatReceived(message.message))
        elif isinstance(message, p.Summoned):
            self._emit(SummonReceived(message.member, message.file, message.cursor))
        elif isinstance(message, p.Pong):
            sent = self._pings.pop(message.id, None)
            if sent is not None:
                self.rtt = time.monotonic() - sent
                self._share_rtt()
        elif isinstance(message, p.RoomKeys):
            # A reconnect must use the key that works now.
            self.key = message.write_key if self.role == "write" else message.read_key
            self._emit(KeysReceived(self.key or message.read_key, message.write_key is not None))
        elif isinstance(message, p.VoiceWelcome):
            self._emit(VoiceWelcomed(list(message.peers), list(message.ice_servers)))
        elif isinstance(message, p.SignalRelayed):
            self._emit(SignalReceived(message))
        elif isinstance(message, p.Error):
            self._error(message)

    def _welcome(self, message: p.Welcome) -> None:
        self.member = message.member
        self.role = message.role
        self.files = list(message.files)
        self.members = {m.member: m for m in message.members}
        self.chat = list(message.chat)
        self._set_status("connected")
        self._welcomed.set()
        self._emit(FilesListed(self.files))
        self._emit(MembersChanged(dict(self.members)))
        for sync in self.syncs.values():
            sync.reconnected()
            self._flush(sync)
        for file in self._opening:
            self._send(p.Open(file=file))
        if self._presence is not None:
            self._send(self._presence)

    def _file_message(self, message: p.Ack | p.RemoteOp | p.Catchup | p.Snapshot) -> None:
        sync = self.syncs.get(message.file)
        if sync is None:
            if isinstance(message, p.Snapshot) and message.file in self._opening:
                sync = FileSync(message.file, text=message.text, revision=message.revision)
                self.syncs[message.file] = sync
                self._opening.pop(message.file).waiter.set_result(sync)
                self._emit(FileOpened(message.file, message.text))
            return
        sync.receive(message)
        for event in sync.events_received():
            if isinstance(event, RemoteChange):
                self._move_cursors(message.file, event.op, author=event.member)
                self._emit(FileChanged(message.file, event.op, event.member, None, event.revision))
            elif isinstance(event, Confirmed):
                self._emit(EditStored(message.file, event.seq, event.revision))
        self._flush(sync)
        self._journal(sync)

    def _error(self, message: p.Error) -> None:
        if message.file is not None and message.seq is not None:
            sync = self.syncs.get(message.file)
            if sync is not None:
                sync.receive(message)
                self._flush(sync)
                if any(isinstance(e, RetryLater) for e in sync.events_received()):
                    asyncio.get_running_loop().call_later(RETRY_DELAY, self._resend, sync)
                    return  # a pause, not a problem to show
        if message.code in FATAL_CODES:
            self._fatal = f"{message.code}: {message.message}"
            self.fatal_code = message.code
        if message.ref == "open" and message.file is not None and message.file in self.syncs:
            lost = self.syncs.pop(message.file)  # reopened after a restart, but it is gone
            if self.journal is not None:
                self.journal.forget(lost.file)
        if message.ref == "open" and message.file is not None:
            opening = self._opening.pop(message.file, None)
            if opening is not None:
                opening.waiter.set_exception(SessionClosed(f"{message.code}: {message.message}"))
        self._emit(ErrorReceived(message.code, message.message, message.ref))

    def _move_cursors(self, file: str, op: TextOperation, author: str | None) -> None:
        for member_id, member in list(self.members.items()):
            if member.file != file or member_id == self.member:
                continue
            own = member_id == author
            cursor = None if member.cursor is None else transform_index(member.cursor, op, own=own)
            anchor = None if member.anchor is None else transform_index(member.anchor, op, own=own)
            self.members[member_id] = msgspec.structs.replace(member, cursor=cursor, anchor=anchor)

    def _rtt_ms(self) -> int | None:
        return None if self.rtt is None else min(600_000, round(self.rtt * 1000))

    def _share_rtt(self) -> None:
        """Resend presence when my round trip changed enough for others to care."""
        presence = self._presence
        if presence is None:
            return
        shared, now = presence.rtt, self._rtt_ms()
        if now is not None and (shared is None or abs(now - shared) > max(20, shared // 2)):
            self.set_presence(presence)

    def _resend(self, sync: FileSync) -> None:
        if self.syncs.get(sync.file) is sync:
            sync.resend()
            self._flush(sync)

    def _journal(self, sync: FileSync) -> None:
        """Keep the journal current: at once while offline, within half a second online."""
        if self.journal is None:
            return
        self._unjournaled.add(sync.file)
        if self.status != "connected":
            self.flush_journal()
        elif self._journal_timer is None:
            loop = asyncio.get_running_loop()
            self._journal_timer = loop.call_later(JOURNAL_DELAY, self.flush_journal)

    def flush_journal(self) -> None:
        """Write every pending change to the journal now."""
        if self._journal_timer is not None:
            self._journal_timer.cancel()
            self._journal_timer = None
        if self.journal is None:
            return
        for file in self._unjournaled:
            sync = self.syncs.get(file)
            if sync is None:
                self.journal.forget(file)
            else:
                self.journal.record(sync)
        self._unjournaled.clear()

    def _flush(self, sync: FileSync) -> None:
        for message in sync.data_to_send():
            self._send(message)
        presence = self._presence
        if (
            self._presence_held
            and presence is not None
            and presence.file == sync.file
            and sync.buffer is None
        ):
            self._presence_held = False
            self._send(presence)

    def _send(self, message: p.ClientMessage) -> bool:
        connection = self._connection
        if connection is None or not self._welcomed.is_set() or self.status != "connected":
            return False  # the sync engines resend their edits after reconnecting
        broadcast([connection], p.encode(message), text=True)  # written now, in order
        return True

    def _set_status(
        self, status: ConnectionStatus, *, retry_at: float | None = None, reason: str | None = None
    ) -> None:
        self.status = status
        if status != "connected":
            self._welcomed.clear()
        self._emit(StatusChanged(status, retry_at, reason))

    def _emit(self, event: SessionEvent) -> None:
        for callback in self._subscribers:
            callback(event)


def _describe(error: BaseException, url: str) -> str:
    if isinstance(error, ssl.SSLCertVerificationError):
        return (
            f"the relay's certificate at {url} is not trusted ({error.verify_message}); "
            "for a private CA pass --cafile"
        )
    if isinstance(error, ConnectionRefusedError):
        return f"nothing is listening at {url}; is the relay running?"
    if isinstance(error, TimeoutError):
        return f"{url} did not answer in time; check the address and your network"
    if isinstance(error, ConnectionClosed):
        code = error.rcvd.code if error.rcvd else None
        if code == 1012:
            return "the relay is restarting"
        if code == 1013:
            return "the relay is temporarily unavailable"
        return "the connection was closed"
    return f"cannot reach {url}: {error}"


__all__ = [
    "Backoff",
    "ChatReceived",
    "ClientSession",
    "ConnectionStatus",
    "EditStored",
    "ErrorReceived",
    "FileChanged",
    "FileOpened",
    "FilesListed",
    "KeysReceived",
    "MembersChanged",
    "SessionClosed",
    "SessionEvent",
    "SignalReceived",
    "StatusChanged",
    "SummonReceived",
    "VoiceWelcomed",
    "new_client_id",
]
