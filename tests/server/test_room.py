"""The sans-I/O room: who gets what, what gets stored, and what is refused."""

from __future__ import annotations

from pairtui.core import protocol as p
from pairtui.core.keys import read_key_for
from server.auth import role_for
from server.room import Broadcast, Disconnect, Effects, Reply, Room, RoomLimits
from server.store.records import (
    FileCreated,
    KeysSet,
    OpAppended,
    RoomCreated,
    SnapshotSaved,
)


def join(room: Room, member: str, role: p.Role = "write") -> Effects:
    message = p.Join(
        protocol=1, room=room.name, name=member.upper(), client_id=f"client-{member}-0123456789"
    )
    return room.join(member, message, role)


def new_room(limits: RoomLimits | None = None) -> tuple[Room, str]:
    room, effects = Room.create("r", 1.0, limits)
    assert [type(w) for w in effects.writes] == [RoomCreated, FileCreated]
    file = next(iter(room.files))
    return room, file


def replies(effects: Effects, member: str) -> list[p.ServerMessage]:
    return [m.message for m in effects.messages if isinstance(m, Reply) and m.member == member]


def codes(effects: Effects) -> list[str]:
    return [
        m.message.code
        for m in effects.messages
        if not isinstance(m, Disconnect) and isinstance(m.message, p.Error)
    ]


def test_join_welcomes_and_announces() -> None:
    room, file = new_room()
    join(room, "a")
    effects = join(room, "b")
    [welcome] = replies(effects, "b")
    assert isinstance(welcome, p.Welcome)
    assert welcome.files == [p.FileInfo(file=file, path="main.py")]
    assert {m.member for m in welcome.members} == {"a", "b"}
    assert len({m.color for m in welcome.members}) == 2
    [announce] = [m for m in effects.messages if isinstance(m, Broadcast)]
    assert announce.exclude == "b" and isinstance(announce.message, p.MemberJoined)


def test_op_is_stored_acked_and_sent_only_to_viewers_of_the_file() -> None:
    room, file = new_room()
    join(room, "a")
    join(room, "b")
    room.handle("a", p.Open(file=file), 2.0)
    effects = room.handle("a", p.Op(file=file, revision=0, seq=1, op=["hi"]), 3.0)
    assert [type(w) for w in effects.writes] == [OpAppended]
    assert replies(effects, "a") == [p.Ack(file=file, seq=1, revision=1)]
    [remote] = [m for m in effects.messages if isinstance(m, Broadcast)]
    assert remote.file == file and remote.exclude == "a"
    assert room.members["a"].active_at == 3.0


def test_read_only_member_cannot_write_anything_but_can_read() -> None:
    room, file = new_room()
    join(room, "guest", role="read")
    assert isinstance(replies(room.handle("guest", p.Open(file=file), 1.0), "guest")[0], p.Snapshot)
    writes: list[p.ClientMessage] = [
        p.Op(file=file, revision=0, seq=1, op=["x"]),
        p.CreateFile(path="new.py"),
        p.RenameFile(file=file, path="other.py"),
        p.DeleteFile(file=file),
        p.SendChat(text="can I ask?"),
        p.Summon(),
        p.RotateKeys(),
        p.RemoveMember(member="guest"),
    ]
    keys_before = room.keys
    for message in writes:
        effects = room.handle("guest", message, 1.0)
        assert codes(effects) == ["read_only"], message
        assert effects.writes == []
    assert room.files[file].document.text == "" and room.files[file].path == "main.py"
    assert room.chat == [] and room.keys is keys_before
    presence = room.handle("guest", p.SetPresence(file=file, cursor=0), 1.0)
    assert codes(presence) == [] and room.members["guest"].file == file
    pong = room.handle("guest", p.Ping(id=3), 1.0)
    assert replies(pong, "guest") == [p.Pong(id=3)]


def test_rotating_keys_gives_everyone_the_keys_of_their_role() -> None:
    room, _ = new_room()
    join(room, "a")
    join(room, "guest", role="read")
    effects = room.handle("a", p.RotateKeys(), 1.0)
    [stored] = effects.writes
    assert isinstance(stored, KeysSet) and room.keys == stored.keys
    [to_writer] = replies(effects, "a")
    [to_reader] = replies(effects, "guest")
    assert isinstance(to_writer, p.RoomKeys) and isinstance(to_reader, p.RoomKeys)
    assert to_writer.write_key is not None and to_reader.write_key is None
    assert to_writer.read_key == to_reader.read_key == read_key_for(to_writer.write_key)
    assert role_for(room.keys, to_writer.write_key) == "write"
    assert role_for(room.keys, to_reader.read_key) == "read"
    again = room.handle("a", p.RotateKeys(), 1.0)
    assert role_for(room.keys, to_writer.write_key) is None  # the old keys stop working
    assert again.writes


def test_removing_a_member_disconnects_only_them() -> None:
    room, _ = new_room()
    join(room, "a")
    join(room, "b")
    join(room, "c")
    effects = room.handle("a", p.RemoveMember(member="b"), 1.0)
    assert [m for m in effects.messages if isinstance(m, Disconnect)] == [Disconnect("b")]
    [told] = replies(effects, "b")
    assert isinstance(told, p.Error) and told.code == "removed"
    assert set(room.members) == {"a", "c"}
    left = [m.message for m in effects.messages if isinstance(m, Broadcast)]
    assert p.MemberLeft(member="b") in left
    assert codes(room.handle("a", p.RemoveMember(member="zz"), 1.0)) == ["unknown_member"]
    assert codes(room.handle("a", p.RemoveMember(member="a"), 1.0)) == ["unknown_member"]


def test_presence_is_clamped_to_the_document_and_broadcast() -> None:
    room, file = new_room()
    join(room, "a")
    effects = room.handle("a", p.SetPresence(file=file, cursor=500, anchor=3, following="zz"), 1.0)
    state = room.members["a"]
    assert (state.cursor, state.anchor, state.following) == (0, 0, None)
    assert isinstance(effects.messages[0].message, p.PresenceChanged)


def test_leaving_clears_who_followed_you() -> None:
    room, _ = new_room()
    join(room, "a")
    join(room, "b")
    room.handle("b", p.SetPresence(following="a"), 1.0)
    assert room.members["b"].following == "a"
    room.leave("a")
    assert room.members["b"].following is None
    assert room.leave("a").messages == []  # leaving twice is harmless


def test_snapshot_every_n_ops_and_history_is_trimmed() -> None:
    room, file = new_room(RoomLimits(snapshot_every=3, history=2))
    join(room, "a")
    room.handle("a", p.Open(file=file), 1.0)
    snapshots = 0
    for seq in range(1, 10):
        document = room.files[file].document
        op = [len(document.text), "x"] if document.text else ["x"]
        effects = room.handle("a", p.Op(file=file, revision=document.revision, seq=seq, op=op), 1.0)
        snapshots += sum(isinstance(w, SnapshotSaved) for w in effects.writes)
    assert snapshots == 3
    assert len(room.files[file].document.history) <= 4


def test_file_limit_and_summon() -> None:
    room, file = new_room(RoomLimits(max_files=2))
    join(room, "a")
    join(room, "b")
    assert codes(room.handle("a", p.CreateFile(path="two.py"), 1.0)) == []
    assert codes(room.handle("a", p.CreateFile(path="three.py"), 1.0)) == ["too_many_files"]
    room.handle("a", p.SetPresence(file=file, cursor=0), 1.0)
    [summon] = room.handle("a", p.Summon(), 1.0).messages
    assert isinstance(summon, Broadcast) and summon.exclude == "a"
    assert summon.message == p.Summoned(member="a", file=file, cursor=0)


def test_deleting_an_open_file_clears_presence_on_it() -> None:
    room, file = new_room()
    join(room, "a")
    room.handle("a", p.Open(file=file), 1.0)
    room.handle("a", p.SetPresence(file=file, cursor=0), 1.0)
    room.handle("a", p.DeleteFile(file=file), 1.0)
    assert room.members["a"].file is None and file not in room.members["a"].open_files


def test_a_chat_flood_is_refused_per_member_and_the_room_stays_usable() -> None:
    room, _file = new_room()
    join(room, "a")
    join(room, "b")
    posted = [room.handle("a", p.SendChat(text=f"m{n}"), 10.0) for n in range(15)]
    refused = [e for e in posted if codes(e)]
    assert len(refused) == 5  # a burst of 10 is allowed, then no more at that instant
    assert codes(refused[0]) == [p.ErrorCode.RATE_LIMITED]
    assert "slow down" in refused[0].messages[0].message.message  # type: ignore[union-attr]
    assert not refused[0].writes  # a refused message is neither stored nor sent
    assert not codes(room.handle("b", p.SendChat(text="my turn"), 10.0))  # b has its own budget
    assert not codes(room.handle("a", p.SendChat(text="later"), 10.6))  # a second later: again
    assert [m.text for m in room.chat][-2:] == ["my turn", "later"]


def test_presence_carries_the_members_round_trip() -> None:
    room, file = new_room()
    join(room, "a")
    join(room, "b")
    effects = room.handle("a", p.SetPresence(file=file, cursor=0, rtt=42), 2.0)
    [changed] = [m.message for m in effects.messages if isinstance(m, Broadcast)]
    assert isinstance(changed, p.PresenceChanged) and changed.member.rtt == 42
