"""Memory per idle connection: a relay process holding thousands of joined, silent clients.

A fresh ``pair serve`` (SQLite, loopback) is started; its resident memory is
read from /proc before and after ``--connections`` websockets have joined
rooms of ``--per-room`` and gone quiet. Budget: at most 50 KiB a connection.

    python -m bench.idle [--connections 5000] [--per-room 2] [--json bench/results/idle.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
from pathlib import Path

from rich.console import Console
from websockets.asyncio.client import ClientConnection, connect

from bench.load import sqlite_relay
from pairtui.core import protocol as p


def resident_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


async def join(url: str, room: str, number: int) -> ClientConnection:
    # Idle clients read nothing: an unbounded queue keeps the room's notices from
    # stalling their close handshakes (a full queue stops reading the socket).
    connection = await connect(url, compression=None, ping_interval=None, max_queue=None)
    message = p.Join(
        protocol=p.PROTOCOL_VERSION,
        room=room,
        name=f"idle{number}",
        client_id=f"idle-{number:08d}-{secrets.token_hex(4)}",
    )
    await connection.send(p.encode(message), text=True)
    while not isinstance(p.decode_server(await connection.recv()), p.Welcome):
        pass
    return connection


async def measure(url: str, pid: int, count: int, per_room: int) -> dict[str, float]:
    console = Console(stderr=True)
    # Code paths loaded and pools made first, in rooms like the measured ones.
    warm = [await join(url, f"warmup-{n // per_room}", n) for n in range(20)]
    await asyncio.sleep(1.0)
    before = resident_kib(pid)
    connections: list[ClientConnection] = []
    with console.status("joining") as status:
        for start in range(0, count, 200):
            batch = range(start, min(count, start + 200))
            connections += await asyncio.gather(
                *(join(url, f"idle-{n // per_room}", n) for n in batch)
            )
            status.update(f"joined {len(connections)} of {count}")
    await asyncio.sleep(3.0)  # room workers settle; nothing is sent from here on
    after = resident_kib(pid)
    for connection in connections + warm:
        await connection.close()
    return {
        "connections": count,
        "rooms": -(-count // per_room),
        "rss_before_kib": before,
        "rss_after_kib": after,
        "kib_per_connection": round((after - before) / count, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=5000)
    parser.add_argument("--per-room", type=int, default=2)
    parser.add_argument("--json", type=Path, default=Path("bench/results/idle.json"))
    args = parser.parse_args()
    with sqlite_relay() as (url, pid):
        result = asyncio.run(measure(url, pid, args.connections, args.per_room))
    Console().print(
        f"{result['connections']:,} idle connections in {result['rooms']:,} rooms: "
        f"{result['kib_per_connection']} KiB each "
        f"(RSS {result['rss_before_kib']:,} -> {result['rss_after_kib']:,} KiB)"
    )
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
