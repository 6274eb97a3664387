"""A bare relay: the ceiling to compare ``pair serve`` with under the same load.

It keeps only what the protocol cannot do without: a welcome on join, a
snapshot on open, and for each op the ordering step (transform past newer
ops, ``ServerDocument``), an ack and the op forwarded to the others. Without
that step clients' texts would diverge and they would resynchronize, which
is not a ceiling but a different workload. Everything else is gone: no
storage, no presence bookkeeping or cursor moving (presence and chat are
forwarded as they come), no limits, keys, metrics, batching or logs.

    python -m bench.bare_relay --port 9200
    pair bench --server ws://127.0.0.1:9200/ --rooms 500 --duration 60
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import signal
from dataclasses import dataclass, field

from websockets.asyncio.server import ServerConnection, broadcast, serve

from pairtui.core import protocol as p
from server.document import Applied, Duplicate, ServerDocument

FILE = "f0"


@dataclass
class BareRoom:
    document: ServerDocument = field(default_factory=ServerDocument)
    members: dict[str, ServerConnection] = field(default_factory=dict)


rooms: dict[str, BareRoom] = {}
ids = itertools.count(1)


async def handle(connection: ServerConnection) -> None:
    join = p.decode_client(await connection.recv())
    if not isinstance(join, p.Join):
        return
    room = rooms.setdefault(join.room, BareRoom())
    member = f"m{next(ids)}"
    room.members[member] = connection
    welcome = p.Welcome(
        protocol=p.PROTOCOL_VERSION,
        server="bare",
        room=join.room,
        member=member,
        role="write",
        files=[p.FileInfo(file=FILE, path="main.py")],
        members=[],
        chat=[],
    )
    await connection.send(p.encode(welcome), text=True)
    try:
        async for frame in connection:
            message = p.decode_client(frame)
            others = [c for m, c in room.members.items() if m != member]
            if isinstance(message, p.Op):
                document = room.document
                outcome = document.receive(
                    message.revision, p.parse_operation(message.op), join.client_id, message.seq
                )
                if isinstance(outcome, (Applied, Duplicate)):
                    revision = (
                        outcome.entry.revision if isinstance(outcome, Applied) else outcome.revision
                    )
                    ack = p.Ack(file=FILE, seq=message.seq, revision=revision)
                    broadcast([connection], p.encode(ack), text=True)
                if isinstance(outcome, Applied):
                    remote = p.RemoteOp(
                        file=FILE,
                        revision=outcome.entry.revision,
                        op=outcome.entry.op.to_json(),
                        member=member,
                    )
                    broadcast(others, p.encode(remote), text=True)
            elif isinstance(message, p.Open):
                snapshot = p.Snapshot(
                    file=FILE, revision=room.document.revision, text=room.document.text
                )
                broadcast([connection], p.encode(snapshot), text=True)
            elif isinstance(message, p.Ping):
                broadcast([connection], p.encode(p.Pong(id=message.id)), text=True)
            elif isinstance(message, p.SendChat):
                chat = p.ChatMessage(
                    id=1,
                    member=member,
                    name=join.name,
                    color="#ffffff",
                    text=message.text,
                    time=0.0,
                )
                broadcast([connection, *others], p.encode(p.ChatPosted(message=chat)), text=True)
            elif isinstance(message, p.SetPresence):
                who = p.Member(
                    member=member,
                    name=join.name,
                    color="#ffffff",
                    role="write",
                    file=message.file,
                    cursor=message.cursor,
                )
                broadcast(others, p.encode(p.PresenceChanged(member=who)), text=True)
    finally:
        room.members.pop(member, None)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=9200)
    args = parser.parse_args()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with serve(handle, "127.0.0.1", args.port, compression=None, max_size=1 << 20):
        print(f"bare relay on ws://127.0.0.1:{args.port}/", flush=True)
        await stop.wait()


if __name__ == "__main__":
    asyncio.run(main())
