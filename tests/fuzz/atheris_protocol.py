"""Coverage-guided fuzzing of the decoder and the room, for long runs outside CI.

    pip install atheris
    python tests/fuzz/atheris_protocol.py -max_total_time=600 -rss_limit_mb=4096

Each input is split into frames; each frame goes through ``decode_client``
and, when it decodes, into a ``Room`` from one of three members (two writers,
one read-only). A crash is any exception other than ``ProtocolError`` from the
decoder, any exception from the room, or a room whose held text disagrees
with a replay of what it asked to store. CI runs the hypothesis version of
these checks (tests/server/test_fuzz.py); this one is for hours, not seconds.
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports():
    from pairtui.core import protocol as p
    from server.room import Room, RoomLimits
    from server.store.records import FileCreated, OpAppended, Write

MEMBERS = ("w1", "w2", "r1")


def replay(writes: list[Write], texts: dict[str, str]) -> None:
    """The text each file would have if the stored writes were replayed."""
    for write in writes:
        if isinstance(write, FileCreated):
            texts[write.file] = write.text
        elif isinstance(write, OpAppended) and write.file in texts:
            texts[write.file] = write.entry.op.apply(texts[write.file])


def test_one_input(data: bytes) -> None:
    room, created = Room.create("fuzz", 0.0, RoomLimits(max_files=4, max_document_length=200))
    texts: dict[str, str] = {}
    replay(created.writes, texts)
    for member in MEMBERS:
        join = p.Join(protocol=1, room="fuzz", name=member, client_id=f"client-{member}-000000000")
        room.join(member, join, "read" if member.startswith("r") else "write")
    for number, frame in enumerate(data.split(b"\n")[:50]):
        try:
            message = p.decode_client(frame.replace(b"F1", next(iter(room.files), "f").encode()))
        except p.ProtocolError:
            continue
        member = MEMBERS[number % len(MEMBERS)]
        if member not in room.members:
            continue
        effects = room.handle(member, message, 1.0)
        if member.startswith("r") and effects.writes:
            raise AssertionError(f"a read-only member wrote: {message}")
        replay(effects.writes, texts)
    for file_id, room_file in room.files.items():
        if texts.get(file_id) != room_file.document.text:
            raise AssertionError(f"{file_id}: held text differs from the stored replay")


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
