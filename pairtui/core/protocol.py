"""Every wire message as a typed struct, with validating decode and stable error codes.

One JSON object a websocket text frame, ``{"type": ..., ...}``. Messages the
client sends and messages the relay sends are two separate tagged unions, so
each side decodes only what it may receive. Decoding never raises anything
but ``ProtocolError``, whose ``code`` is one of ``ErrorCode``: the relay sends
that code back and keeps the connection. docs/protocol.md is the prose
version of this module and must change with it.

Unknown fields are ignored (a newer client may send more than an older relay
knows); unknown message types, missing fields, wrong types and oversized
fields are errors.
"""

from __future__ import annotations

import enum
from typing import Annotated, Literal, TypeAlias

import msgspec

from pairtui.core.ot import OTError, TextOperation
from pairtui.core.paths import MAX_PATH_LENGTH

PROTOCOL_VERSION = 1
"""Bumped on any change an older peer would misread."""

MAX_CHAT_LENGTH = 8_000
MAX_NAME_LENGTH = 64

MAX_KEY_LENGTH = 256
MAX_OP_COMPONENTS = 100_000
MAX_SDP_LENGTH = 20_000
"""An audio-only session description with a handful of candidates is 1 to 3 KB."""
MAX_CANDIDATE_LENGTH = 1_000
MAX_VOICE_PEERS = 4
"""Voice is a full mesh: each person sends their audio to every other, so it stays small."""


class ErrorCode(enum.StrEnum):
    """Stable error codes; docs/protocol.md explains each and what to do about it."""

    BAD_JSON = "bad_json"
    BAD_FRAME = "bad_frame"
    UNKNOWN_TYPE = "unknown_type"
    MISSING_FIELD = "missing_field"
    BAD_FIELD = "bad_field"
    FIELD_TOO_LARGE = "field_too_large"
    FRAME_TOO_LARGE = "frame_too_large"
    UNSUPPORTED_PROTOCOL = "unsupported_protocol"
    NOT_JOINED = "not_joined"
    ALREADY_JOINED = "already_joined"
    UNKNOWN_FILE = "unknown_file"
    NOT_OPEN = "not_open"
    BAD_OP = "bad_op"
    OP_MISMATCH = "op_mismatch"
    FUTURE_REVISION = "future_revision"
    HISTORY_UNAVAILABLE = "history_unavailable"
    DOCUMENT_TOO_LARGE = "document_too_large"
    BAD_PATH = "bad_path"
    FILE_EXISTS = "file_exists"
    TOO_MANY_FILES = "too_many_files"
    RATE_LIMITED = "rate_limited"
    READ_ONLY = "read_only"
    BAD_KEY = "bad_key"
    BAD_TOKEN = "bad_token"
    ROOM_EXISTS = "room_exists"
    UNKNOWN_MEMBER = "unknown_member"
    REMOVED = "removed"
    NOT_IN_VOICE = "not_in_voice"
    VOICE_FULL = "voice_full"
    STORAGE_UNAVAILABLE = "storage_unavailable"
    INTERNAL = "internal"


class ProtocolError(Exception):
    """A message that cannot be accepted, with the code the relay answers with."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


# -- field types --------------------------------------------------------------

Revision = Annotated[int, msgspec.Meta(ge=0)]
Seq = Annotated[int, msgspec.Meta(ge=1)]
Index = Annotated[int, msgspec.Meta(ge=0)]
RoomName = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
ClientId = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_-]{16,64}$")]
FileId = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
MemberId = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_NAME_LENGTH)]
Color = Annotated[str, msgspec.Meta(pattern=r"^#[0-9a-fA-F]{6}$")]
FilePath = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_PATH_LENGTH)]
Key = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_KEY_LENGTH)]
ChatText = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_CHAT_LENGTH)]
OpJson = Annotated[list[int | str], msgspec.Meta(max_length=MAX_OP_COMPONENTS)]
Viewport = tuple[Index, Index]
"""First and last visible line (0-based) of a person's editor."""
Role = Literal["write", "read"]
RttMs = Annotated[int, msgspec.Meta(ge=0, le=600_000)]
"""A round trip to the relay in milliseconds, as the member's own app measured it."""
VoiceState = Literal["on", "muted"]
"""In voice and heard, or in voice and muted; absent when not in voice."""
SignalKind = Literal["offer", "answer", "ice"]
SdpText = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_SDP_LENGTH)]
Candidate = Annotated[str, msgspec.Meta(max_length=MAX_CANDIDATE_LENGTH)]
"""One ``candidate:...`` attribute; the empty string means no more candidates follow."""
MediaId = Annotated[str, msgspec.Meta(max_length=64)]


class _Message(msgspec.Struct, tag_field="type", frozen=True, kw_only=True, omit_defaults=True):
    """Base of every message: tagged by its ``type`` field."""


# -- client to relay ----------------------------------------------------------


class Join(_Message, tag="join", frozen=True):
    """First message on a connection: enter a room (created on first join)."""

    protocol: int
    room: RoomName
    name: Name
    client_id: ClientId
    key: Key | None = None
    color: Color | None = None


class Open(_Message, tag="open", frozen=True):
    """Open or switch to a file. With ``since``, ask for the ops after that revision."""

    file: FileId
    since: Revision | None = None


class Op(_Message, tag="op", frozen=True):
    """A local edit: ``op`` applies to the file at ``revision``; ``seq`` counts up per file."""

    file: FileId
    revision: Revision
    seq: Seq
    op: OpJson


class SetPresence(_Message, tag="presence", frozen=True):
    """Where I am: file, cursor and selection anchor (code points), viewport, whom I follow.

    ``rtt`` is my last measured round trip to the relay: others see my connection quality.
    """

    file: FileId | None = None
    cursor: Index | None = None
    anchor: Index | None = None
    viewport: Viewport | None = None
    following: MemberId | None = None
    rtt: RttMs | None = None


class SendChat(_Message, tag="chat", frozen=True):
    """Post a chat message to the room."""

    text: ChatText


class CreateFile(_Message, tag="file_create", frozen=True):
    """Add a file to the room, optionally with initial text."""

    path: FilePath
    text: str = ""


class RenameFile(_Message, tag="file_rename", frozen=True):
    """Give a file a new path; its id, text and history stay."""

    file: FileId
    path: FilePath


class DeleteFile(_Message, tag="file_delete", frozen=True):
    """Remove a file from the room."""

    file: FileId


class Summon(_Message, tag="summon", frozen=True):
    """Ask everyone else to come to my file and cursor."""


class CreateRoom(_Message, tag="create_room", frozen=True):
    """Instead of ``join``: create a room with keys (an admin token where the relay asks one).

    The relay answers ``room_keys`` and closes the connection.
    """

    protocol: int
    room: RoomName
    token: Key | None = None


class RotateKeys(_Message, tag="rotate_keys", frozen=True):
    """New keys for the room (writers only): old invite links stop working.

    Everyone in the room at that moment is sent the new keys of their role.
    """


class RemoveMember(_Message, tag="remove_member", frozen=True):
    """Disconnect a member from the room (writers only); rotate keys first to keep them out."""

    member: MemberId


class Ping(_Message, tag="ping", frozen=True):
    """Round-trip probe; the relay answers ``pong`` with the same id."""

    id: int


class VoiceJoin(_Message, tag="voice_join", frozen=True):
    """Enter the room's voice call; the relay answers ``voice_welcome``."""

    muted: bool = False


class VoiceLeave(_Message, tag="voice_leave", frozen=True):
    """Leave the voice call (leaving the room or losing the connection does it too)."""


class VoiceMute(_Message, tag="voice_mute", frozen=True):
    """Tell the others you are muted (or not): their people panel shows it."""

    muted: bool


class Signal(_Message, tag="signal", frozen=True):
    """WebRTC signalling for ``to``: an SDP ``offer`` or ``answer``, or one ``ice`` candidate.

    The relay passes it on only when sender and receiver are both in the
    room's voice call; see ``check_signal`` for which fields each kind needs.
    """

    to: MemberId
    kind: SignalKind
    sdp: SdpText | None = None
    candidate: Candidate | None = None
    mid: MediaId | None = None


ClientMessage: TypeAlias = (
    Join
    | Open
    | Op
    | SetPresence
    | SendChat
    | CreateFile
    | RenameFile
    | DeleteFile
    | Summon
    | Ping
    | CreateRoom
    | RotateKeys
    | RemoveMember
    | VoiceJoin
    | VoiceLeave
    | VoiceMute
    | Signal
)

VoiceMessage: TypeAlias = VoiceJoin | VoiceLeave | VoiceMute | Signal


# -- relay to client ----------------------------------------------------------


class FileInfo(msgspec.Struct, frozen=True, kw_only=True):
    """A file of the room as listed to members."""

    file: FileId
    path: FilePath


class Member(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One person in the room and their presence."""

    member: MemberId
    name: Name
    color: Color
    role: Role
    file: FileId | None = None
    cursor: Index | None = None
    anchor: Index | None = None
    viewport: Viewport | None = None
    following: MemberId | None = None
    active_at: float | None = None
    rtt: RttMs | None = None
    voice: VoiceState | None = None


class ChatMessage(msgspec.Struct, frozen=True, kw_only=True):
    """A chat message as stored and shown."""

    id: int
    member: MemberId
    name: Name
    color: Color
    text: ChatText
    time: float


class HistoryOp(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """An applied op in a catch-up; ``seq`` is set only on the receiver's own ops."""

    revision: Revision
    op: OpJson
    member: MemberId | None = None
    seq: Seq | None = None


class Welcome(_Message, tag="welcome", frozen=True):
    """The answer to ``join``: who you are and what the room holds."""

    protocol: int
    server: str
    room: RoomName
    member: MemberId
    role: Role
    files: list[FileInfo]
    members: list[Member]
    chat: list[ChatMessage]


class Snapshot(_Message, tag="snapshot", frozen=True):
    """A file's whole text at ``revision``; ``applied_seq`` is your last op applied to it."""

    file: FileId
    revision: Revision
    text: str
    applied_seq: int = 0


class Catchup(_Message, tag="catchup", frozen=True):
    """The ops applied to a file after the ``since`` you gave, oldest first."""

    file: FileId
    revision: Revision
    ops: list[HistoryOp]


class Ack(_Message, tag="ack", frozen=True):
    """Your op ``seq`` is durably stored and became ``revision``."""

    file: FileId
    seq: Seq
    revision: Revision


class RemoteOp(_Message, tag="remote_op", frozen=True):
    """Someone else's op, already transformed: it applies at ``revision - 1``."""

    file: FileId
    revision: Revision
    op: OpJson
    member: MemberId | None = None


class FileList(_Message, tag="files", frozen=True):
    """The room's files after a create, rename or delete."""

    files: list[FileInfo]


class MemberJoined(_Message, tag="member_joined", frozen=True):
    """Someone entered the room."""

    member: Member


class MemberLeft(_Message, tag="member_left", frozen=True):
    """Someone left the room or lost their connection."""

    member: MemberId


class PresenceChanged(_Message, tag="presence", frozen=True):
    """Someone's presence changed (or moved because of an edit)."""

    member: Member


class ChatPosted(_Message, tag="chat", frozen=True):
    """A new chat message."""

    message: ChatMessage


class Summoned(_Message, tag="summoned", frozen=True):
    """``member`` asks you to come to ``file`` at ``cursor``."""

    member: MemberId
    file: FileId
    cursor: Index


class RoomKeys(_Message, tag="room_keys", frozen=True):
    """The room's new keys: the answer to ``create_room``, and to every member on a rotation.

    The only time the relay sends keys; read-only members get only ``read_key``.
    """

    room: RoomName
    read_key: Key
    write_key: Key | None = None


class Pong(_Message, tag="pong", frozen=True):
    """Answer to ``ping``."""

    id: int


class IceServer(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """A STUN or TURN server, as WebRTC's ``RTCIceServer`` describes one."""

    urls: list[Annotated[str, msgspec.Meta(max_length=512)]]
    username: Annotated[str, msgspec.Meta(max_length=512)] | None = None
    credential: Annotated[str, msgspec.Meta(max_length=512)] | None = None


class VoiceWelcome(_Message, tag="voice_welcome", frozen=True):
    """You are in voice: send an ``offer`` to each of ``peers`` (who were there first).

    Only the newcomer offers, so two people never offer to each other at
    once. ``ice_servers`` are the relay's STUN/TURN servers, if it has any.
    """

    peers: list[MemberId]
    ice_servers: list[IceServer] = []


class SignalRelayed(_Message, tag="signal", frozen=True):
    """Signalling from ``member`` for you; the fields are those of the ``signal`` they sent."""

    member: MemberId
    kind: SignalKind
    sdp: SdpText | None = None
    candidate: Candidate | None = None
    mid: MediaId | None = None


class Error(_Message, tag="error", frozen=True):
    """Something you sent was refused; ``ref`` names the message type, ``seq`` the op."""

    code: ErrorCode
    message: str
    ref: str | None = None
    file: FileId | None = None
    seq: Seq | None = None


ServerMessage: TypeAlias = (
    Welcome
    | Snapshot
    | Catchup
    | Ack
    | RemoteOp
    | FileList
    | MemberJoined
    | MemberLeft
    | PresenceChanged
    | ChatPosted
    | Summoned
    | RoomKeys
    | Pong
    | VoiceWelcome
    | SignalRelayed
    | Error
)


# -- encode / decode ----------------------------------------------------------

_client_decoder = msgspec.json.Decoder(ClientMessage)
_server_decoder = msgspec.json.Decoder(ServerMessage)
_encoder = msgspec.json.Encoder()


def encode(message: ClientMessage | ServerMessage) -> bytes:
    """UTF-8 JSON for one frame (send it as a text frame)."""
    return _encoder.encode(message)


def decode_client(data: str | bytes) -> ClientMessage:
    """Decode a frame the relay received; raise ``ProtocolError`` when it is bad."""
    try:
        return _client_decoder.decode(data)
    except msgspec.DecodeError as error:
        raise _classify(error) from None


def decode_server(data: str | bytes) -> ServerMessage:
    """Decode a frame the client received; raise ``ProtocolError`` when it is bad."""
    try:
        return _server_decoder.decode(data)
    except msgspec.DecodeError as error:
        raise _classify(error) from None


def parse_operation(raw: list[int | str]) -> TextOperation:
    """Turn an ``op`` field into a ``TextOperation``, refusing what no document may hold."""
    try:
        operation = TextOperation.from_json(raw)
    except OTError as error:
        raise ProtocolError(ErrorCode.BAD_OP, str(error)) from None
    for component in operation.ops:
        if isinstance(component, str) and "\r" in component:
            raise ProtocolError(
                ErrorCode.BAD_OP, "documents use \\n line endings; the insert contains \\r"
            )
    return operation


def check_signal(message: Signal | SignalRelayed) -> None:
    """Refuse a ``signal`` whose fields do not fit its kind (decoding cannot say this)."""
    if message.kind in ("offer", "answer"):
        if message.sdp is None or message.candidate is not None:
            raise ProtocolError(
                ErrorCode.BAD_FIELD, f"a {message.kind} carries an sdp and no candidate"
            )
    elif message.candidate is None or message.sdp is not None:
        raise ProtocolError(ErrorCode.BAD_FIELD, "an ice signal carries a candidate and no sdp")


def _classify(error: msgspec.DecodeError) -> ProtocolError:
    """Map msgspec's message to a stable code, keeping its text (it names the field)."""
    text = str(error)
    if not isinstance(error, msgspec.ValidationError):
        return ProtocolError(ErrorCode.BAD_JSON, f"the frame is not valid UTF-8 JSON ({text})")
    if " - at `" not in text:
        if "missing required field `type`" in text:
            return ProtocolError(ErrorCode.MISSING_FIELD, 'every message needs a "type"')
        if "missing required field" in text:
            return ProtocolError(ErrorCode.MISSING_FIELD, text)
        return ProtocolError(ErrorCode.BAD_JSON, f"a message is a JSON object ({text})")
    if text.endswith("- at `$.type`"):
        return ProtocolError(ErrorCode.UNKNOWN_TYPE, f"unknown message type ({text})")
    if "missing required field" in text:
        return ProtocolError(ErrorCode.MISSING_FIELD, text)
    if "length <=" in text:
        return ProtocolError(ErrorCode.FIELD_TOO_LARGE, text)
    return ProtocolError(ErrorCode.BAD_FIELD, text)
