"""A room as the relay keeps it: files, members and their presence, and chat.

Rule: everything that decides how a room answers its members lives in this
file (per-file ordering is delegated to ``server/document.py``). Nothing here
does I/O. Each event returns an ``Effects``: the records to store and the
messages to send. The relay commits the records first and only then sends
the messages, so nobody is told of an edit or a chat message that a crash
could still take away.

A member's mistake is answered with an ``error`` to that member alone and
changes nothing; only valid writes by members with the write role change the
room.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TypeAlias

from pairtui import __version__
from pairtui.core import protocol as p
from pairtui.core.keys import read_key_for
from pairtui.core.ot import TextOperation, transform_index
from pairtui.core.paths import BadPathError, check_file_path
from pairtui.core.protocol import ErrorCode, ProtocolError
from server.auth import new_keys
from server.document import DEFAULT_MAX_LENGTH, Applied, Duplicate, ServerDocument
from server.limits import RateLimit, TokenBucket
from server.store.records import (
    ChatAppended,
    FileCreated,
    FileDeleted,
    FileRenamed,
    KeyHashes,
    KeysSet,
    OpAppended,
    RoomCreated,
    RoomRecord,
    SnapshotSaved,
    Write,
)
from server.voice import VoiceCall

PALETTE = ("#e06c75", "#61afef", "#98c379", "#c678dd", "#e5c07b", "#56b6c2", "#d19a66", "#be5046")
DEFAULT_FILE = "main.py"


CHAT_RATE = RateLimit(rate=2.0, burst=10.0, flood=1_000_000)


@dataclass(frozen=True)
class RoomLimits:
    """How big a room may grow; the relay's command line sets these."""

    max_files: int = 100
    max_document_length: int = DEFAULT_MAX_LENGTH
    history: int = 20_000
    snapshot_every: int = 500
    chat_kept: int = 1_000
    chat_on_join: int = 200
    chat_rate: RateLimit = CHAT_RATE
    """Chat messages a member may post: a flood of chat would bury everyone else's."""
    ice_servers: tuple[p.IceServer, ...] = ()
    """STUN/TURN servers handed to everyone who joins the voice call."""


@dataclass(frozen=True)
class Reply:
    """Send ``message`` to one member."""

    member: str
    message: p.ServerMessage


@dataclass(frozen=True)
class Broadcast:
    """Send ``message`` to every member but ``exclude``; with ``file``, only to its viewers."""

    message: p.ServerMessage
    exclude: str | None = None
    file: str | None = None


@dataclass(frozen=True)
class Disconnect:
    """Close ``member``'s connection for good (they were removed from the room)."""

    member: str


Outgoing: TypeAlias = Reply | Broadcast | Disconnect


@dataclass
class Effects:
    """What one event caused: records to store first, then messages to send."""

    writes: list[Write] = field(default_factory=list)
    messages: list[Outgoing] = field(default_factory=list)
    ops_applied: int = 0
    errors: list[ErrorCode] = field(default_factory=list)

    def extend(self, other: Effects) -> None:
        self.writes.extend(other.writes)
        self.messages.extend(other.messages)
        self.ops_applied += other.ops_applied
        self.errors.extend(other.errors)


@dataclass
class RoomFile:
    file: str
    path: str
    document: ServerDocument
    ops_since_snapshot: int = 0


@dataclass
class MemberState:
    member: str
    client_id: str
    name: str
    color: str
    role: p.Role
    open_files: set[str] = field(default_factory=set)
    file: str | None = None
    cursor: int | None = None
    anchor: int | None = None
    viewport: tuple[int, int] | None = None
    following: str | None = None
    active_at: float | None = None
    rtt: int | None = None
    chat_bucket: TokenBucket | None = None
    voice: p.VoiceState | None = None

    def public(self) -> p.Member:
        return p.Member(
            member=self.member,
            name=self.name,
            color=self.color,
            role=self.role,
            file=self.file,
            cursor=self.cursor,
            anchor=self.anchor,
            viewport=self.viewport,
            following=self.following,
            active_at=self.active_at,
            rtt=self.rtt,
            voice=self.voice,
        )


class Room:
    """One room's live state."""

    def __init__(self, record: RoomRecord, limits: RoomLimits | None = None) -> None:
        self.name = record.name
        self.limits = limits or RoomLimits()
        self.files: dict[str, RoomFile] = {
            f.file: RoomFile(
                f.file,
                f.path,
                ServerDocument(
                    f.text,
                    f.revision,
                    history=f.history,
                    applied_seqs=f.applied_seqs,
                    max_length=self.limits.max_document_length,
                ),
            )
            for f in record.files
        }
        self.chat: list[p.ChatMessage] = list(record.chat[-self.limits.chat_kept :])
        self.members: dict[str, MemberState] = {}
        self.voice = VoiceCall()
        self.keys: KeyHashes | None = record.keys
        """``None``: an open room, which anyone reaching the relay may join to write."""

    @classmethod
    def create(
        cls, name: str, now: float, limits: RoomLimits | None = None, keys: KeyHashes | None = None
    ) -> tuple[Room, Effects]:
        """A new room with one empty file (and ``keys``, if any), and the writes that store it."""
        room = cls(RoomRecord(name=name, created_at=now, files=[], chat=[], keys=keys), limits)
        file_id = room._new_file_id()
        room.files[file_id] = RoomFile(
            file_id, DEFAULT_FILE, ServerDocument(max_length=room.limits.max_document_length)
        )
        writes: list[Write] = [
            RoomCreated(name, now),
            FileCreated(name, file_id, DEFAULT_FILE, "", now),
        ]
        if keys is not None:
            writes.append(KeysSet(name, keys))
        return room, Effects(writes=writes)

    def lock(self) -> tuple[str, Effects]:
        """Give the room new keys; everyone in it gets the keys of their role.

        ``create_room`` on an open room and ``rotate_keys`` both come here:
        the people in the room keep their access across reconnects, while
        old invite links (and anyone removed first) are shut out.
        """
        write_key, self.keys = new_keys()
        read_key = read_key_for(write_key)
        messages: list[Outgoing] = [
            Reply(
                member.member,
                p.RoomKeys(
                    room=self.name,
                    read_key=read_key,
                    write_key=write_key if member.role == "write" else None,
                ),
            )
            for member in self.members.values()
        ]
        return write_key, Effects(writes=[KeysSet(self.name, self.keys)], messages=messages)

    @property
    def empty(self) -> bool:
        return not self.members

    # -- membership -----------------------------------------------------------------

    def join(self, member: str, join: p.Join, role: p.Role) -> Effects:
        """Add a member; they get ``welcome``, the others ``member_joined``."""
        used = {m.color for m in self.members.values()}
        color = join.color or next((c for c in PALETTE if c not in used), PALETTE[0])
        state = MemberState(member, join.client_id, join.name, color, role)
        self.members[member] = state
        welcome = p.Welcome(
            protocol=p.PROTOCOL_VERSION,
            server=__version__,
            room=self.name,
            member=member,
            role=role,
            files=self._file_list(),
            members=[m.public() for m in self.members.values()],
            chat=self.chat[-self.limits.chat_on_join :],
        )
        return Effects(
            messages=[
                Reply(member, welcome),
                Broadcast(p.MemberJoined(member=state.public()), exclude=member),
            ]
        )

    def leave(self, member: str) -> Effects:
        """Remove a member and clear their presence for everyone."""
        if self.members.pop(member, None) is None:
            return Effects()
        self.voice.leave(member)
        for other in self.members.values():
            if other.following == member:
                other.following = None
        return Effects(messages=[Broadcast(p.MemberLeft(member=member), exclude=member)])

    # -- messages ---------------------------------------------------------------------

    def handle(self, member: str, message: p.ClientMessage, now: float) -> Effects:
        """Answer one message from a member that has joined."""
        state = self.members.get(member)
        if state is None:
            return _error(member, ErrorCode.NOT_JOINED, "join the room first", message)
        try:
            return self._dispatch(state, message, now)
        except ProtocolError as error:
            return _error(member, error.code, error.message, message)

    def _dispatch(self, state: MemberState, message: p.ClientMessage, now: float) -> Effects:
        if isinstance(message, p.Op):
            return self._op(state, message, now)
        if isinstance(message, p.SetPresence):
            return self._presence(state, message)
        if isinstance(message, p.Open):
            return self._open(state, message)
        if isinstance(message, p.Ping):
            return Effects(messages=[Reply(state.member, p.Pong(id=message.id))])
        if isinstance(message, (p.Join, p.CreateRoom)):
            raise ProtocolError(ErrorCode.ALREADY_JOINED, "this connection has joined already")
        if isinstance(message, p.VoiceLeave | p.VoiceMute | p.Signal):
            return self._in_call(state, message, now)
        # Everything below changes the room or asks something of others: writers only.
        _require_write(state)
        if isinstance(message, p.SendChat):
            return self._chat(state, message, now)
        if isinstance(message, p.Summon):
            return self._summon(state)
        if isinstance(message, p.CreateFile):
            return self._create_file(message, now)
        if isinstance(message, p.RenameFile):
            return self._rename_file(message)
        if isinstance(message, p.DeleteFile):
            return self._delete_file(message)
        if isinstance(message, p.RotateKeys):
            return self.lock()[1]
        if isinstance(message, p.VoiceJoin):
            return self._voice_join(state, message, now)
        return self._remove_member(state, message)

    def _op(self, state: MemberState, message: p.Op, now: float) -> Effects:
        _require_write(state)
        room_file = self._file(message.file)
        if message.file not in state.open_files:
            raise ProtocolError(ErrorCode.NOT_OPEN, f"open {message.file} before editing it")
        operation = p.parse_operation(message.op)
        document = room_file.document
        outcome = document.receive(
            message.revision, operation, state.client_id, message.seq, state.member
        )
        if isinstance(outcome, Duplicate):
            ack = p.Ack(file=message.file, seq=outcome.seq, revision=outcome.revision)
            return Effects(messages=[Reply(state.member, ack)])
        if not isinstance(outcome, Applied):
            error = p.Error(
                code=outcome.code,
                message=outcome.message,
                ref="op",
                file=message.file,
                seq=message.seq,
            )
            return Effects(messages=[Reply(state.member, error)], errors=[outcome.code])
        entry = outcome.entry
        state.active_at = now
        self._move_cursors(message.file, entry.op, state.member)
        writes: list[Write] = [OpAppended(self.name, message.file, entry, now)]
        room_file.ops_since_snapshot += 1
        if room_file.ops_since_snapshot >= self.limits.snapshot_every:
            writes.append(self._snapshot(room_file))
        if document.history_length > 2 * self.limits.history:
            document.trim_history(self.limits.history)
        json_op = entry.op.to_json()
        return Effects(
            writes=writes,
            messages=[
                Reply(
                    state.member, p.Ack(file=message.file, seq=entry.seq, revision=entry.revision)
                ),
                Broadcast(
                    p.RemoteOp(
                        file=message.file, revision=entry.revision, op=json_op, member=state.member
                    ),
                    exclude=state.member,
                    file=message.file,
                ),
            ],
            ops_applied=1,
        )

    def _open(self, state: MemberState, message: p.Open) -> Effects:
        room_file = self._file(message.file)
        state.open_files.add(message.file)
        document = room_file.document
        entries = None if message.since is None else document.ops_since(message.since)
        reply: p.ServerMessage
        if entries is None:
            applied_seq = document.applied_seqs.get(state.client_id, (0, 0))[0]
            reply = p.Snapshot(
                file=message.file,
                revision=document.revision,
                text=document.text,
                applied_seq=applied_seq,
            )
        else:
            ops = [
                p.HistoryOp(
                    revision=e.revision,
                    op=e.op.to_json(),
                    member=e.member,
                    seq=e.seq if e.client_id == state.client_id else None,
                )
                for e in entries
            ]
            reply = p.Catchup(file=message.file, revision=document.revision, ops=ops)
        return Effects(messages=[Reply(state.member, reply)])

    def _presence(self, state: MemberState, message: p.SetPresence) -> Effects:
        if message.file is not None:
            length = len(self._file(message.file).document.text)
            state.cursor = None if message.cursor is None else min(message.cursor, length)
            state.anchor = None if message.anchor is None else min(message.anchor, length)
        else:
            state.cursor = state.anchor = None
        state.file = message.file
        state.viewport = message.viewport
        state.rtt = message.rtt
        following = message.following
        state.following = (
            following if following in self.members and following != state.member else None
        )
        changed = p.PresenceChanged(member=state.public())
        return Effects(messages=[Broadcast(changed, exclude=state.member)])

    def _chat(self, state: MemberState, message: p.SendChat, now: float) -> Effects:
        if state.chat_bucket is None:
            state.chat_bucket = TokenBucket(self.limits.chat_rate, now)
        if not state.chat_bucket.allow(now):
            raise ProtocolError(
                ErrorCode.RATE_LIMITED,
                f"slow down: at most {self.limits.chat_rate.rate:g} chat messages a second "
                f"(bursts of {self.limits.chat_rate.burst:g}); this one was not posted",
            )
        next_id = self.chat[-1].id + 1 if self.chat else 1
        chat = p.ChatMessage(
            id=next_id,
            member=state.member,
            name=state.name,
            color=state.color,
            text=message.text,
            time=now,
        )
        self.chat.append(chat)
        del self.chat[: -self.limits.chat_kept]
        return Effects(
            writes=[ChatAppended(self.name, chat, self.limits.chat_kept)],
            messages=[Broadcast(p.ChatPosted(message=chat))],
        )

    def _voice_join(self, state: MemberState, message: p.VoiceJoin, now: float) -> Effects:
        """Writers only: talking is as much a change to the session as chat is."""
        peers = self.voice.join(state.member, message.muted, now)
        welcome = p.VoiceWelcome(peers=peers, ice_servers=list(self.limits.ice_servers))
        return Effects(messages=[Reply(state.member, welcome), *self._voice_changed(state)])

    def _in_call(
        self, state: MemberState, message: p.VoiceLeave | p.VoiceMute | p.Signal, now: float
    ) -> Effects:
        """Leaving, muting and signalling: open to anyone in the call (a guest can leave)."""
        if isinstance(message, p.Signal):
            relayed = self.voice.route(state.member, message, now, message.to in self.members)
            return Effects(messages=[Reply(message.to, relayed)])
        if isinstance(message, p.VoiceMute):
            self.voice.mute(state.member, message.muted)
        elif not self.voice.leave(state.member):
            return Effects()  # leaving twice is not a mistake worth an error
        return Effects(messages=self._voice_changed(state))

    def _voice_changed(self, state: MemberState) -> list[Outgoing]:
        state.voice = self.voice.state_of(state.member)
        return [Broadcast(p.PresenceChanged(member=state.public()))]

    def _summon(self, state: MemberState) -> Effects:
        if state.file is None:
            raise ProtocolError(ErrorCode.NOT_OPEN, "open a file before summoning others to it")
        summoned = p.Summoned(member=state.member, file=state.file, cursor=state.cursor or 0)
        return Effects(messages=[Broadcast(summoned, exclude=state.member)])

    def _create_file(self, message: p.CreateFile, now: float) -> Effects:
        path = self._check_new_path(message.path)
        if len(self.files) >= self.limits.max_files:
            raise ProtocolError(
                ErrorCode.TOO_MANY_FILES, f"a room holds at most {self.limits.max_files} files"
            )
        if len(message.text) > self.limits.max_document_length:
            raise ProtocolError(ErrorCode.DOCUMENT_TOO_LARGE, "the initial text is too large")
        if "\r" in message.text:
            raise ProtocolError(ErrorCode.BAD_FIELD, "documents use \\n line endings")
        file_id = self._new_file_id()
        document = ServerDocument(message.text, max_length=self.limits.max_document_length)
        self.files[file_id] = RoomFile(file_id, path, document)
        return self._files_changed([FileCreated(self.name, file_id, path, message.text, now)])

    def _rename_file(self, message: p.RenameFile) -> Effects:
        room_file = self._file(message.file)
        path = self._check_new_path(message.path, renaming=message.file)
        room_file.path = path
        return self._files_changed([FileRenamed(self.name, message.file, path)])

    def _delete_file(self, message: p.DeleteFile) -> Effects:
        self._file(message.file)
        del self.files[message.file]
        for member in self.members.values():
            member.open_files.discard(message.file)
            if member.file == message.file:
                member.file = member.cursor = member.anchor = None
        return self._files_changed([FileDeleted(self.name, message.file)])

    def _remove_member(self, state: MemberState, message: p.RemoveMember) -> Effects:
        target = self.members.get(message.member)
        if target is None or target is state:
            raise ProtocolError(
                ErrorCode.UNKNOWN_MEMBER, f"no other member {message.member!r} is in this room"
            )
        removed = p.Error(
            code=ErrorCode.REMOVED,
            message=f"{state.name} removed you from the room",
            ref="remove_member",
        )
        effects = Effects(messages=[Reply(target.member, removed), Disconnect(target.member)])
        effects.extend(self.leave(target.member))
        return effects

    # -- helpers ------------------------------------------------------------------------

    def snapshot_writes(self) -> list[Write]:
        """Snapshots of every file changed since its last one (before unloading the room)."""
        return [self._snapshot(f) for f in self.files.values() if f.ops_since_snapshot]

    def _snapshot(self, room_file: RoomFile) -> SnapshotSaved:
        room_file.ops_since_snapshot = 0
        document = room_file.document
        return SnapshotSaved(
            self.name, room_file.file, document.revision, document.text, self.limits.history
        )

    def _move_cursors(self, file: str, op: TextOperation, author: str) -> None:
        for member in self.members.values():
            if member.file != file:
                continue
            own = member.member == author
            if member.cursor is not None:
                member.cursor = transform_index(member.cursor, op, own=own)
            if member.anchor is not None:
                member.anchor = transform_index(member.anchor, op, own=own)

    def _files_changed(self, writes: Iterable[Write]) -> Effects:
        return Effects(
            writes=list(writes), messages=[Broadcast(p.FileList(files=self._file_list()))]
        )

    def _file_list(self) -> list[p.FileInfo]:
        return [p.FileInfo(file=f.file, path=f.path) for f in self.files.values()]

    def _file(self, file_id: str) -> RoomFile:
        room_file = self.files.get(file_id)
        if room_file is None:
            raise ProtocolError(ErrorCode.UNKNOWN_FILE, f"this room has no file {file_id!r}")
        return room_file

    def _check_new_path(self, path: str, renaming: str | None = None) -> str:
        try:
            check_file_path(path)
        except BadPathError as error:
            raise ProtocolError(ErrorCode.BAD_PATH, str(error)) from None
        for other in self.files.values():
            if other.path == path and other.file != renaming:
                raise ProtocolError(ErrorCode.FILE_EXISTS, f"{path!r} exists already")
        return path

    def _new_file_id(self) -> str:
        while True:
            file_id = "f" + secrets.token_hex(4)
            if file_id not in self.files:
                return file_id


def _require_write(state: MemberState) -> None:
    if state.role != "write":
        raise ProtocolError(
            ErrorCode.READ_ONLY, "you joined read-only: you can watch, not change the room"
        )


def _error(member: str, code: ErrorCode, text: str, cause: p.ClientMessage) -> Effects:
    seq = cause.seq if isinstance(cause, p.Op) else None
    file = getattr(cause, "file", None)
    ref = type(cause).__struct_config__.tag
    error = p.Error(code=code, message=text, ref=str(ref), file=file, seq=seq)
    return Effects(messages=[Reply(member, error)], errors=[code])
