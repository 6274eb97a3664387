"""Every message round-trips; malformed frames are refused with the right code."""

from __future__ import annotations

import json
import typing

import pytest

from pairtui.core import protocol as p
from pairtui.core.protocol import ErrorCode

CLIENT_ID = "c" * 22
MEMBER = p.Member(
    member="m1",
    name="Ada",
    color="#ff8800",
    role="write",
    file="f1",
    cursor=3,
    anchor=1,
    viewport=(0, 40),
    following="m2",
    active_at=1.5,
)
CHAT = p.ChatMessage(id=7, member="m1", name="Ada", color="#ff8800", text="hi", time=2.0)

CLIENT_MESSAGES: list[p.ClientMessage] = [
    p.Join(protocol=1, room="demo", name="Ada", client_id=CLIENT_ID, key="k" * 30, color="#00ff00"),
    p.Join(protocol=1, room="demo", name="Ada", client_id=CLIENT_ID),
    p.Open(file="f1"),
    p.Open(file="f1", since=12),
    p.Op(file="f1", revision=4, seq=2, op=[3, "hé😀", -2, 1]),
    p.SetPresence(file="f1", cursor=3, anchor=0, viewport=(10, 50), following="m2"),
    p.SetPresence(),
    p.SendChat(text="look at https://example.org\n```py\nprint(1)\n```"),
    p.CreateFile(path="ex/one.py", text="print('hi')\n"),
    p.RenameFile(file="f1", path="ex/two.py"),
    p.DeleteFile(file="f1"),
    p.Summon(),
    p.Ping(id=99),
    p.CreateRoom(protocol=1, room="camp", token="t" * 32),
    p.CreateRoom(protocol=1, room="camp"),
    p.RotateKeys(),
    p.RemoveMember(member="m2"),
    p.VoiceJoin(muted=True),
    p.VoiceJoin(),
    p.VoiceLeave(),
    p.VoiceMute(muted=False),
    p.Signal(to="m2", kind="offer", sdp="v=0\r\n"),
    p.Signal(to="m2", kind="ice", candidate="candidate:1 1 udp 1 192.0.2.1 9 typ host", mid="0"),
    p.Signal(to="m2", kind="ice", candidate=""),
]

SERVER_MESSAGES: list[p.ServerMessage] = [
    p.Welcome(
        protocol=1,
        server="0.1.0",
        room="demo",
        member="m1",
        role="read",
        files=[p.FileInfo(file="f1", path="a.py")],
        members=[MEMBER],
        chat=[CHAT],
    ),
    p.Snapshot(file="f1", revision=3, text="abc", applied_seq=2),
    p.Catchup(
        file="f1",
        revision=5,
        ops=[
            p.HistoryOp(revision=4, op=["x"], member="m2"),
            p.HistoryOp(revision=5, op=[1, "y"], seq=3),
        ],
    ),
    p.Ack(file="f1", seq=3, revision=5),
    p.RemoteOp(file="f1", revision=6, op=[2, -1], member="m2"),
    p.FileList(files=[p.FileInfo(file="f1", path="a.py"), p.FileInfo(file="f2", path="b.py")]),
    p.MemberJoined(member=MEMBER),
    p.MemberLeft(member="m2"),
    p.PresenceChanged(member=MEMBER),
    p.ChatPosted(message=CHAT),
    p.Summoned(member="m1", file="f1", cursor=10),
    p.Pong(id=99),
    p.RoomKeys(room="camp", read_key="r" * 32, write_key="w" * 32),
    p.RoomKeys(room="camp", read_key="r" * 32),
    p.Error(code=ErrorCode.OP_MISMATCH, message="nope", ref="op", file="f1", seq=4),
    p.VoiceWelcome(
        peers=["m2", "m3"],
        ice_servers=[
            p.IceServer(urls=["stun:stun.example.org:3478"]),
            p.IceServer(urls=["turn:t.example.org:3478"], username="u", credential="c"),
        ],
    ),
    p.VoiceWelcome(peers=[]),
    p.SignalRelayed(member="m2", kind="answer", sdp="v=0\r\n"),
]


def _create(**fields: object) -> bytes:
    return json.dumps({"type": "create_room", "protocol": 1, "room": "camp", **fields}).encode()


def test_every_message_type_is_covered() -> None:
    client_types = set(typing.get_args(p.ClientMessage))
    server_types = set(typing.get_args(p.ServerMessage))
    assert {type(m) for m in CLIENT_MESSAGES} == client_types
    assert {type(m) for m in SERVER_MESSAGES} == server_types


@pytest.mark.parametrize("message", CLIENT_MESSAGES, ids=lambda m: type(m).__name__)
def test_client_messages_round_trip(message: p.ClientMessage) -> None:
    frame = p.encode(message)
    assert json.loads(frame)["type"]
    assert p.decode_client(frame) == message
    assert p.decode_client(frame.decode()) == message


@pytest.mark.parametrize("message", SERVER_MESSAGES, ids=lambda m: type(m).__name__)
def test_server_messages_round_trip(message: p.ServerMessage) -> None:
    assert p.decode_server(p.encode(message)) == message


def test_none_fields_are_left_out_of_frames() -> None:
    assert json.loads(p.encode(p.Open(file="f1"))) == {"type": "open", "file": "f1"}


def test_unknown_fields_are_ignored_for_forward_compatibility() -> None:
    frame = b'{"type":"ping","id":1,"future_field":[1,2]}'
    assert p.decode_client(frame) == p.Ping(id=1)


def _join(**overrides: object) -> bytes:
    base: dict[str, object] = {
        "type": "join",
        "protocol": 1,
        "room": "demo",
        "name": "Ada",
        "client_id": CLIENT_ID,
    }
    base.update(overrides)
    return json.dumps({k: v for k, v in base.items() if v is not ...}).encode()


def _op(**overrides: object) -> bytes:
    base: dict[str, object] = {"type": "op", "file": "f1", "revision": 0, "seq": 1, "op": ["a"]}
    base.update(overrides)
    return json.dumps({k: v for k, v in base.items() if v is not ...}).encode()


MALFORMED: list[tuple[str, bytes, ErrorCode]] = [
    ("empty frame", b"", ErrorCode.BAD_JSON),
    ("truncated json", b'{"type": "ping"', ErrorCode.BAD_JSON),
    ("not json", b"hello", ErrorCode.BAD_JSON),
    ("invalid utf-8", b'{"type":"chat","text":"\xff"}', ErrorCode.BAD_JSON),
    ("lone surrogate", b'{"type":"chat","text":"\\ud800"}', ErrorCode.BAD_JSON),
    ("array", b"[1, 2]", ErrorCode.BAD_JSON),
    ("string", b'"join"', ErrorCode.BAD_JSON),
    ("null", b"null", ErrorCode.BAD_JSON),
    ("number", b"42", ErrorCode.BAD_JSON),
    ("no type", b'{"room": "demo"}', ErrorCode.MISSING_FIELD),
    ("unknown type", b'{"type": "explode"}', ErrorCode.UNKNOWN_TYPE),
    ("type not a string", b'{"type": 5}', ErrorCode.UNKNOWN_TYPE),
    (
        "server-only type from a client",
        b'{"type": "ack", "file": "f", "seq": 1, "revision": 1}',
        ErrorCode.UNKNOWN_TYPE,
    ),
    ("join without room", _join(room=...), ErrorCode.MISSING_FIELD),
    ("join without client id", _join(client_id=...), ErrorCode.MISSING_FIELD),
    ("join protocol as string", _join(protocol="1"), ErrorCode.BAD_FIELD),
    ("room with slash", _join(room="../etc"), ErrorCode.BAD_FIELD),
    ("room too long", _join(room="r" * 65), ErrorCode.BAD_FIELD),
    ("empty name", _join(name=""), ErrorCode.BAD_FIELD),
    ("name too long", _join(name="n" * 65), ErrorCode.FIELD_TOO_LARGE),
    ("short client id", _join(client_id="abc"), ErrorCode.BAD_FIELD),
    ("bad color", _join(color="red"), ErrorCode.BAD_FIELD),
    ("huge key", _join(key="k" * 300), ErrorCode.FIELD_TOO_LARGE),
    ("op without seq", _op(seq=...), ErrorCode.MISSING_FIELD),
    ("negative revision", _op(revision=-1), ErrorCode.BAD_FIELD),
    ("seq zero", _op(seq=0), ErrorCode.BAD_FIELD),
    ("revision as float", _op(revision=1.5), ErrorCode.BAD_FIELD),
    ("revision as bool", _op(revision=True), ErrorCode.BAD_FIELD),
    ("op not a list", _op(op="abc"), ErrorCode.BAD_FIELD),
    ("op with float", _op(op=[1.5]), ErrorCode.BAD_FIELD),
    ("op with object", _op(op=[{"i": "x"}]), ErrorCode.BAD_FIELD),
    ("op with null", _op(op=[None]), ErrorCode.BAD_FIELD),
    ("file id with spaces", _op(file="a b"), ErrorCode.BAD_FIELD),
    (
        "chat too long",
        json.dumps({"type": "chat", "text": "x" * 9000}).encode(),
        ErrorCode.FIELD_TOO_LARGE,
    ),
    ("empty chat", b'{"type": "chat", "text": ""}', ErrorCode.BAD_FIELD),
    ("viewport of three", b'{"type": "presence", "viewport": [1, 2, 3]}', ErrorCode.BAD_FIELD),
    ("negative cursor", b'{"type": "presence", "cursor": -4}', ErrorCode.BAD_FIELD),
    (
        "path too long",
        json.dumps({"type": "file_create", "path": "p" * 300}).encode(),
        ErrorCode.FIELD_TOO_LARGE,
    ),
    ("ping id as string", b'{"type": "ping", "id": "x"}', ErrorCode.BAD_FIELD),
    (
        "create_room without room",
        b'{"type": "create_room", "protocol": 1}',
        ErrorCode.MISSING_FIELD,
    ),
    ("create_room huge token", _create(token="t" * 300), ErrorCode.FIELD_TOO_LARGE),
    ("create_room token as number", _create(token=5), ErrorCode.BAD_FIELD),
    ("remove_member without member", b'{"type": "remove_member"}', ErrorCode.MISSING_FIELD),
    ("remove_member bad id", b'{"type": "remove_member", "member": "a/b"}', ErrorCode.BAD_FIELD),
    (
        "nested wrong type",
        b'{"type": "file_rename", "file": ["f1"], "path": "a"}',
        ErrorCode.BAD_FIELD,
    ),
]


@pytest.mark.parametrize(("case", "frame", "code"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_client_frames_are_refused_with_their_code(
    case: str, frame: bytes, code: ErrorCode
) -> None:
    with pytest.raises(p.ProtocolError) as caught:
        p.decode_client(frame)
    assert caught.value.code == code, f"{case}: {caught.value.message}"
    assert caught.value.message


def test_there_are_at_least_thirty_malformed_cases() -> None:
    assert len(MALFORMED) >= 30


def test_decode_server_refuses_malformed_frames() -> None:
    with pytest.raises(p.ProtocolError) as caught:
        p.decode_server(b'{"type": "ack", "file": "f1", "seq": 1}')
    assert caught.value.code == ErrorCode.MISSING_FIELD


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [([0], "neither"), ([""], "empty"), (["a\r\nb"], "line endings"), ([True], "integer")],
)
def test_parse_operation_refuses_bad_ops(raw: list[int | str], fragment: str) -> None:
    with pytest.raises(p.ProtocolError) as caught:
        p.parse_operation(raw)
    assert caught.value.code == ErrorCode.BAD_OP
    assert fragment in caught.value.message


def test_parse_operation_accepts_a_good_op() -> None:
    assert p.parse_operation([2, "x", -1]).ops == [2, "x", -1]
