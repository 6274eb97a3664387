"""Ops per second through the relay's room core and its SQLite store, on the real traces.

Each sequential trace's patches become ops from one member, in order:

* ``document``: ``ServerDocument.receive`` alone (ordering, dedupe, apply);
* ``room``: ``Room.handle`` (adds presence, effects, ack and broadcast messages);
* ``room+encode``: plus encoding every outgoing message, as the relay does;
* ``sqlite/op``: plus a SQLite commit per op (a quiet relay);
* ``sqlite/64``: plus a SQLite commit per 64 ops (a busy relay's group commit).

    python -m bench.room [--limit 40000] [--json bench/results/room.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench.traces import SEQUENTIAL, SequentialTrace, load_sequential
from pairtui.core import protocol as p
from pairtui.core.ot import TextOperation
from server.document import ServerDocument
from server.room import Disconnect, Room
from server.store.records import Write
from server.store.sqlite import SQLiteStore

CLIENT = "bench-client-0123456789"
VARIANTS = ("document", "room", "room+encode", "sqlite/op", "sqlite/64")


def trace_ops(trace: SequentialTrace, limit: int) -> list[TextOperation]:
    ops, length = [], len(trace.start)
    for position, deleted, inserted in trace.patches[:limit]:
        ops.append(TextOperation.from_edit(length, position, deleted, inserted))
        length += len(inserted) - deleted
    return ops


def new_room() -> tuple[Room, str, list[Write]]:
    room, effects = Room.create("bench", 0.0)
    file = next(iter(room.files))
    room.join("m1", p.Join(protocol=1, room="bench", name="b", client_id=CLIENT), "write")
    room.join("m2", p.Join(protocol=1, room="bench", name="c", client_id=CLIENT[::-1]), "write")
    room.handle("m1", p.Open(file=file), 0.0)
    room.handle("m2", p.Open(file=file), 0.0)
    return room, file, effects.writes


def run_document(start: str, ops: list[TextOperation]) -> None:
    document = ServerDocument(start)
    for seq, op in enumerate(ops, 1):
        document.receive(seq - 1, op, CLIENT, seq)


def run_room(start: str, ops: list[TextOperation], encode: bool) -> None:
    room, file, _ = new_room()
    room.files[file].document = ServerDocument(start)
    for seq, op in enumerate(ops, 1):
        effects = room.handle("m1", p.Op(file=file, revision=seq - 1, seq=seq, op=op.ops), 0.0)
        if encode:
            for outgoing in effects.messages:
                if not isinstance(outgoing, Disconnect):
                    p.encode(outgoing.message)


async def run_sqlite(start: str, ops: list[TextOperation], group: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        store = await SQLiteStore.open(Path(folder))
        room, file, writes = new_room()
        room.files[file].document = ServerDocument(start)
        await store.commit(writes)
        pending: list[Write] = []
        for seq, op in enumerate(ops, 1):
            effects = room.handle("m1", p.Op(file=file, revision=seq - 1, seq=seq, op=op.ops), 0.0)
            pending.extend(effects.writes)
            if seq % group == 0:
                await store.commit(pending)
                pending = []
        await store.commit(pending)
        await store.close()


def timed(function: Callable[[], object]) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def measure(trace: SequentialTrace, limit: int, sqlite_limit: int) -> dict[str, object]:
    ops = trace_ops(trace, limit)
    short = ops[:sqlite_limit]
    start = trace.start
    runs: dict[str, tuple[Callable[[], object], int]] = {
        "document": (lambda: run_document(start, ops), len(ops)),
        "room": (lambda: run_room(start, ops, False), len(ops)),
        "room+encode": (lambda: run_room(start, ops, True), len(ops)),
        "sqlite/op": (lambda: asyncio.run(run_sqlite(start, short, 1)), len(short)),
        "sqlite/64": (lambda: asyncio.run(run_sqlite(start, ops, 64)), len(ops)),
    }
    rates = {variant: count / timed(run) for variant, (run, count) in runs.items()}
    return {"trace": trace.name, "ops": len(ops), "ops_per_second": rates}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=40_000, help="patches per trace")
    parser.add_argument(
        "--sqlite-limit",
        type=int,
        default=5_000,
        help="patches per trace for the one-commit-per-op run",
    )
    parser.add_argument("--json", type=Path, default=Path("bench/results/room.json"))
    args = parser.parse_args()
    console = Console(width=max(Console().width, 110))
    results = []
    for name in SEQUENTIAL:
        with console.status(f"{name}: up to {args.limit:,} ops"):
            results.append(measure(load_sequential(name), args.limit, args.sqlite_limit))
    table = Table(title="Room core and store throughput (ops/s)")
    table.add_column("trace")
    table.add_column("ops", justify="right")
    for variant in VARIANTS:
        table.add_column(variant, justify="right")
    for result in results:
        rates = result["ops_per_second"]
        assert isinstance(rates, dict)
        table.add_row(
            str(result["trace"]), f"{result['ops']:,}", *(f"{rate:,.0f}" for rate in rates.values())
        )
    console.print(table)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"benchmark": "room", "results": results}, indent=2))
    console.print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
