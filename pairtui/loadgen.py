"""``pair bench``: simulated campers typing into shared files, with the numbers that matter.

Each camper is a real ``ClientSession`` (the one client implementation). It
types about ``rate`` keystrokes a second with random (exponential) gaps:
mostly single characters at its cursor, some backspaces, an occasional paste,
cursor moves, and some chat. Every paste carries a unique marker
(``⟦c12.3⟧``); campers never type or delete inside a marker, and OT keeps
each insert whole, so at the end every acknowledged marker must be in the
relay's text exactly once: a missing one is a lost edit, a second copy a
duplicated one.

Latency is keystroke to peer: the time from a key press (the edit handed to
the session) to the moment a partner's session applies the op that carries
it. Ops are matched by the revision the relay gave them, which the author
learns from its ack and the partner from the op itself; both run in this
process, on one clock. Keystrokes in the warm-up are not counted.

The run is bounded: ``duration`` seconds of typing after the warm-up, then
at most ``DRAIN`` seconds for everything to be stored and compared. It
connects only to the URL it is given.
"""

from __future__ import annotations

import asyncio
import gc
import json
import random
import secrets
import statistics
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table

from pairtui.client import (
    Backoff,
    ClientSession,
    EditStored,
    ErrorReceived,
    FileChanged,
    SessionEvent,
)
from pairtui.core import protocol as p
from pairtui.loop import run as run_loop

DRAIN = 60.0  # seconds, at most, for the end of the run to settle
CONNECT_AT_ONCE = 50
LETTERS = "abcdefghijklmnopqrstuvwxyz     ()=:.\n"
OPEN, CLOSE = "⟦", "⟧"


@dataclass(frozen=True)
class LoadConfig:
    server: str
    rooms: int = 10
    campers_per_room: int = 2
    rate: float = 6.0
    duration: float = 10.0
    warmup: float = 2.0
    seed: int = 0


@dataclass
class Results:
    """What a run measured; ``as_json`` is the documented JSON form."""

    config: LoadConfig
    keystrokes: int = 0
    latencies: list[float] = field(default_factory=list)  # seconds, after the warm-up
    errors: Counter[str] = field(default_factory=Counter)
    reconnects: int = 0
    converged: bool = False
    lost_edits: int = 0
    duplicated_edits: int = 0
    typing_seconds: float = 0.0
    connect_seconds: float = 0.0

    def percentile(self, q: float) -> float | None:
        if not self.latencies:
            return None
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    def as_json(self) -> dict[str, Any]:
        config = self.config
        latency = {
            name: _round(self.percentile(q))
            for name, q in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("p99.9", 0.999))
        }
        latency["max"] = _round(max(self.latencies) * 1000) if self.latencies else None
        latency["mean"] = (
            _round(statistics.fmean(self.latencies) * 1000) if self.latencies else None
        )
        return {
            "server": config.server,
            "campers": config.rooms * config.campers_per_room,
            "rooms": config.rooms,
            "campers_per_room": config.campers_per_room,
            "rate": config.rate,
            "duration": config.duration,
            "warmup": config.warmup,
            "seed": config.seed,
            "ops": self.keystrokes,
            "ops_per_second": round(self.keystrokes / self.typing_seconds, 1)
            if self.typing_seconds
            else 0.0,
            "latency_ms": latency,
            "latency_samples": len(self.latencies),
            "errors": sum(self.errors.values()),
            "errors_by_code": dict(self.errors),
            "reconnects": self.reconnects,
            "converged": self.converged,
            "lost_edits": self.lost_edits,
            "duplicated_edits": self.duplicated_edits,
            "connect_seconds": round(self.connect_seconds, 2),
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


class Camper:
    """One simulated person: a session, a file, a cursor and a typing habit."""

    def __init__(self, session: ClientSession, file: str, number: int, rng: random.Random) -> None:
        self.session = session
        self.file = file
        self.number = number
        self.rng = rng
        self.cursor = 0
        self.markers: dict[int, str] = {}  # seq -> marker pasted in that op
        self.stored: set[int] = set()  # seqs the relay acknowledged
        self.pressed: dict[int, list[float]] = defaultdict(list)  # seq -> key press times
        self.revision_of: dict[int, int] = {}  # seq -> revision it became
        self.pastes = 0

    def act(self, measuring: bool) -> int:
        """One keystroke (or paste, move, chat); how many keystrokes it counts as."""
        text = self.session.syncs[self.file].text
        self.cursor = min(self.cursor, len(text))
        if _inside_marker(text, self.cursor):
            self.cursor = _outside(text, self.cursor)
        roll = self.rng.random()
        if roll < 0.04:
            self.pastes += 1
            marker = f"{OPEN}c{self.number}.{self.pastes}{CLOSE}"
            body = "".join(self.rng.choice(LETTERS) for _ in range(self.rng.randint(10, 60)))
            self._edit(0, f"{marker}{body}\n", measuring, marker)
        elif roll < 0.12 and self.cursor > 0 and text[self.cursor - 1] not in (OPEN, CLOSE):
            self._edit(1, "", measuring)  # backspace
        elif roll < 0.17:
            self.cursor = _outside(text, self.rng.randint(0, len(text)))
            self.session.set_presence(p.SetPresence(file=self.file, cursor=self.cursor))
            return 0
        elif roll < 0.175:
            self.session.send_chat(f"camper {self.number}: look at line {self.rng.randint(1, 40)}")
            return 0
        else:
            self._edit(0, self.rng.choice(LETTERS), measuring)
        return 1

    def _edit(
        self, deleted: int, inserted: str, measuring: bool, marker: str | None = None
    ) -> None:
        start = self.cursor - deleted
        self.session.replace(self.file, start, deleted, inserted)
        self.cursor = start + len(inserted)
        sync = self.session.syncs[self.file]
        seq = sync.next_seq if sync.buffer is not None else sync.outstanding.seq  # type: ignore[union-attr]
        if measuring:
            self.pressed[seq].append(time.perf_counter())
        if marker is not None:
            self.markers[seq] = marker  # a resend keeps its seq; a rebase is a new op

    def on_event(self, event: SessionEvent) -> None:
        if isinstance(event, EditStored) and event.file == self.file:
            self.stored.add(event.seq)
            self.revision_of[event.seq] = event.revision
        elif isinstance(event, FileChanged) and event.file == self.file and event.source is None:
            # the partner's op arrived: move my cursor past it like an editor would
            self.cursor = _transform_cursor(self.cursor, event)


def _transform_cursor(cursor: int, event: FileChanged) -> int:
    from pairtui.core.ot import transform_index

    return transform_index(cursor, event.op, own=False)


def _inside_marker(text: str, position: int) -> bool:
    before = text.rfind(OPEN, 0, position)
    return before != -1 and text.find(CLOSE, before) >= position


def _outside(text: str, position: int) -> int:
    """The nearest place at or after ``position`` that is not inside a marker."""
    while position < len(text) and _inside_marker(text, position):
        position = text.find(CLOSE, position) + 1
    return position


class LoadRun:
    """One bounded run of ``pair bench``."""

    def __init__(self, config: LoadConfig, console: Console | None = None) -> None:
        self.config = config
        self.console = console or Console(stderr=True)
        self.results = Results(config)
        self.campers: list[Camper] = []
        self.rooms: list[list[Camper]] = []
        self.arrivals: dict[tuple[int, int], list[float]] = defaultdict(list)  # (room, revision)
        self.run_id = secrets.token_hex(3)

    async def run(self) -> Results:
        try:
            began = time.perf_counter()
            await self._connect()
            self.results.connect_seconds = time.perf_counter() - began
            # The generator's own garbage collector must not stall the clock it measures
            # with: a full collection over 1,000 sessions pauses for 100 ms and more. The
            # run is bounded, so collecting once after it is enough.
            gc.collect()
            gc.freeze()
            gc.disable()
            try:
                await self._type()
            finally:
                gc.enable()
                gc.unfreeze()
            await self._settle_and_check()
        finally:
            self.results.reconnects = sum(c.session.reconnects for c in self.campers)
            await asyncio.gather(*(c.session.close() for c in self.campers))
        self._join_latencies()
        return self.results

    async def _connect(self) -> None:
        config = self.config
        rng = random.Random(config.seed)
        slots = asyncio.Semaphore(CONNECT_AT_ONCE)

        async def one(room: int, seat: int) -> Camper:
            async with slots:
                session = ClientSession(
                    config.server,
                    f"bench-{self.run_id}-{room}",
                    f"camper{room}.{seat}",
                    backoff=Backoff(0.2, 5.0),
                    seed=rng.randrange(2**32),
                )
                session.subscribe(lambda e: self._on_event(room, e))
                await session.start()
                file = session.files[0].file
                await session.open(file)
                number = room * config.campers_per_room + seat
                camper = Camper(session, file, number, random.Random(rng.randrange(2**32)))
                session.subscribe(camper.on_event)
                return camper

        with self.console.status(f"connecting {config.rooms * config.campers_per_room} campers"):
            tasks = [one(r, s) for r in range(config.rooms) for s in range(config.campers_per_room)]
            self.campers = list(await asyncio.gather(*tasks))
        size = config.campers_per_room
        self.rooms = [self.campers[i : i + size] for i in range(0, len(self.campers), size)]

    def _on_event(self, room: int, event: SessionEvent) -> None:
        if isinstance(event, FileChanged) and event.source is None and event.revision:
            self.arrivals[(room, event.revision)].append(time.perf_counter())
        elif isinstance(event, ErrorReceived):
            self.results.errors[event.code] += 1

    async def _type(self) -> None:
        config = self.config
        start = time.perf_counter()
        measure_from = start + config.warmup
        stop_at = measure_from + config.duration

        async def typing(camper: Camper) -> None:
            await asyncio.sleep(camper.rng.random() / config.rate)  # do not all start at once
            while (now := time.perf_counter()) < stop_at:
                measuring = now >= measure_from
                keystrokes = camper.act(measuring)
                if measuring:
                    self.results.keystrokes += keystrokes
                await asyncio.sleep(camper.rng.expovariate(config.rate))

        with Live(self._progress(start, measure_from, stop_at), console=self.console) as live:
            runner = asyncio.gather(*(typing(c) for c in self.campers))
            while not runner.done():
                await asyncio.wait({runner}, timeout=1.0)
                live.update(self._progress(start, measure_from, stop_at))
            runner.result()
        self.results.typing_seconds = config.duration

    def _progress(self, start: float, measure_from: float, stop_at: float) -> Table:
        now = time.perf_counter()
        table = Table(title="pair bench", show_header=False)
        phase = "warming up" if now < measure_from else "measuring"
        table.add_row(
            "phase", f"{phase}: {min(now, stop_at) - start:.0f} of {stop_at - start:.0f} s"
        )
        table.add_row("campers", str(len(self.campers)))
        measured = max(0.001, min(now, stop_at) - measure_from)
        table.add_row(
            "keystrokes", f"{self.results.keystrokes} ({self.results.keystrokes / measured:.0f}/s)"
        )
        table.add_row("errors", str(sum(self.results.errors.values())))
        table.add_row("reconnects", str(sum(c.session.reconnects for c in self.campers)))
        return table

    async def _settle_and_check(self) -> None:
        deadline = time.perf_counter() + DRAIN
        with self.console.status("waiting for every edit to be stored and to reach everyone"):
            for camper in self.campers:
                remaining = max(0.1, deadline - time.perf_counter())
                try:
                    await camper.session.wait_synced(timeout=remaining)
                except TimeoutError:
                    return  # not converged: reported as such
            converged = await self._compare(deadline)
        self.results.converged = converged

    async def _compare(self, deadline: float) -> bool:
        """Every camper's text equals the relay's; count lost and doubled markers."""
        all_equal = True
        for room in self.rooms:
            first = room[0].session
            checker = ClientSession(self.config.server, first.room, "bench-checker")
            try:
                await checker.start()
                relay_text = (await checker.open(room[0].file)).text
            finally:
                await checker.close()
            while time.perf_counter() < deadline:
                if all(c.session.syncs[c.file].text == relay_text for c in room):
                    break
                await asyncio.sleep(0.05)
            else:
                all_equal = False
            if any(c.session.syncs[c.file].text != relay_text for c in room):
                all_equal = False
            for camper in room:
                for seq, marker in camper.markers.items():
                    count = relay_text.count(marker)
                    if seq in camper.stored and count == 0:
                        self.results.lost_edits += 1
                    if count > 1:
                        self.results.duplicated_edits += 1
        return all_equal

    def _join_latencies(self) -> None:
        for room_index, room in enumerate(self.rooms):
            for camper in room:
                for seq, pressed in camper.pressed.items():
                    revision = camper.revision_of.get(seq)
                    if revision is None:
                        continue
                    arrived = self.arrivals.get((room_index, revision), [])
                    for t_arrival in arrived:
                        self.results.latencies.extend(t_arrival - t for t in pressed)


def summary(results: Results) -> Table:
    data = results.as_json()
    latency = data["latency_ms"]
    table = Table(title=f"pair bench: {data['campers']} campers in {data['rooms']} rooms")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("keystrokes (measured)", f"{data['ops']:,} ({data['ops_per_second']:,.0f}/s)")
    for name in ("p50", "p90", "p99", "p99.9", "max"):
        table.add_row(f"keystroke to peer {name}", f"{latency[name]} ms")
    table.add_row("errors", f"{data['errors']} {data['errors_by_code'] or ''}")
    table.add_row("reconnects", str(data["reconnects"]))
    table.add_row("converged", "yes" if data["converged"] else "NO")
    table.add_row("lost edits", str(data["lost_edits"]))
    table.add_row("duplicated edits", str(data["duplicated_edits"]))
    return table


def add_arguments(parser: Any) -> None:
    parser.add_argument(
        "--server", required=True, help="the relay to load, e.g. ws://127.0.0.1:8765/"
    )
    parser.add_argument("--rooms", type=int, default=10, help="rooms (default: %(default)s)")
    parser.add_argument("--campers-per-room", type=int, default=2, help="(default: %(default)s)")
    parser.add_argument("--rate", type=float, default=6.0, help="keystrokes a second per camper")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds measured")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds typed but not counted")
    parser.add_argument("--seed", type=int, default=None, help="random seed (printed)")
    parser.add_argument("--json", type=Path, help="also write the results here as JSON")


def run_bench(args: Any) -> int:
    console = Console(stderr=True)
    seed = args.seed if args.seed is not None else random.randrange(2**32)
    limits: tuple[int, int, float, float, float] = (
        args.rooms,
        args.campers_per_room,
        args.rate,
        args.duration,
        args.warmup,
    )
    if min(limits[:4]) <= 0 or args.warmup < 0 or args.rooms * args.campers_per_room > 20_000:
        console.print(
            "pair bench: rooms, campers, rate and duration must be positive (<= 20,000 campers)"
        )
        return 2
    config = LoadConfig(args.server, *limits, seed=seed)
    console.print(f"pair bench: seed {seed}")
    bound = config.warmup + config.duration + DRAIN + 600  # connecting included: it stops itself
    try:
        results = run_loop(asyncio.wait_for(LoadRun(config, console).run(), bound))
    except (OSError, TimeoutError) as error:
        console.print(f"pair bench: cannot run against {args.server}: {error}")
        return 1
    console.print(summary(results))
    data = results.as_json()
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(data, indent=2) + "\n")
        console.print(f"wrote {args.json}")
    healthy = data["converged"] and not data["lost_edits"] and not data["duplicated_edits"]
    return 0 if healthy else 1
