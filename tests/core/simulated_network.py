"""Clients and a relay document over in-memory connections, for convergence tests.

Each connection delivers in order (like TCP) but the network interleaves
connections at random, drops whatever is in flight when a connection is cut
(lost ops, lost acks), and the relay may forget old history. The relay side
here is a thin dispatcher; the logic under test is ``FileSync`` and
``ServerDocument``.
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass, field

from pairtui.core import protocol as p
from pairtui.core.ot import TextOperation
from pairtui.core.sync import FileSync
from server.document import Applied, Duplicate, ServerDocument

FILE = "f1"


@dataclass
class SimulatedClient:
    name: str
    client_id: str
    sync: FileSync
    up: deque[p.ClientMessage] = field(default_factory=deque)
    down: deque[p.ServerMessage] = field(default_factory=deque)
    connected: bool = True
    subscribed: bool = True  # the relay sends this file's ops only after an open
    markers: list[str] = field(default_factory=list)


class SimulatedRoom:
    def __init__(self, names: list[str], rng: random.Random) -> None:
        self.rng = rng
        self.document = ServerDocument()
        self.clients = [
            SimulatedClient(name, f"client-{name}-0123456789", FileSync(FILE, text="", revision=0))
            for name in names
        ]
        self.errors: list[p.Error] = []
        self.duplicates = 0
        self.snapshots = 0

    # -- client actions -------------------------------------------------------------

    def local_edit(self, client: SimulatedClient) -> None:
        text = client.sync.text
        if text and self.rng.random() < 0.35:
            runs = _filler_runs(text)
            if runs:
                start, end = self.rng.choice(runs)
                a = self.rng.randint(start, end - 1)
                b = self.rng.randint(a + 1, min(end, a + 4))
                client.sync.local_edit(TextOperation.from_edit(len(text), a, b - a, ""))
                self._pump(client)
                return
        position = self.rng.choice(_boundaries(text))
        if self.rng.random() < 0.5:
            marker = f"[{client.name}{len(client.markers)}]"
            client.markers.append(marker)
            inserted = marker
        else:
            inserted = "".join(self.rng.choice("abcxyz") for _ in range(self.rng.randint(1, 3)))
        client.sync.local_edit(TextOperation.from_edit(len(text), position, 0, inserted))
        self._pump(client)

    def disconnect(self, client: SimulatedClient) -> None:
        client.connected = False
        client.subscribed = False
        client.up.clear()
        client.down.clear()
        client.sync.disconnected()

    def reconnect(self, client: SimulatedClient) -> None:
        client.connected = True
        client.sync.reconnected()
        self._pump(client)

    # -- network --------------------------------------------------------------------

    def deliver_up(self, client: SimulatedClient) -> None:
        message = client.up.popleft()
        if isinstance(message, p.Op) and self.rng.random() < 0.1:
            client.up.appendleft(message)  # at-least-once delivery: this frame arrives twice
        if isinstance(message, p.Open):
            client.subscribed = True
            entries = self.document.ops_since(message.since) if message.since is not None else None
            if entries is None:
                self.snapshots += 1
                seq = self.document.applied_seqs.get(client.client_id, (0, 0))[0]
                client.down.append(
                    p.Snapshot(
                        file=FILE,
                        revision=self.document.revision,
                        text=self.document.text,
                        applied_seq=seq,
                    )
                )
            else:
                client.down.append(
                    p.Catchup(
                        file=FILE,
                        revision=self.document.revision,
                        ops=[
                            p.HistoryOp(
                                revision=e.revision,
                                op=e.op.to_json(),
                                seq=e.seq if e.client_id == client.client_id else None,
                            )
                            for e in entries
                        ],
                    )
                )
        elif isinstance(message, p.Op):
            outcome = self.document.receive(
                message.revision, p.parse_operation(message.op), client.client_id, message.seq
            )
            if isinstance(outcome, Applied):
                entry = outcome.entry
                client.down.append(p.Ack(file=FILE, seq=entry.seq, revision=entry.revision))
                for other in self.clients:
                    if other is not client and other.subscribed:
                        other.down.append(
                            p.RemoteOp(file=FILE, revision=entry.revision, op=entry.op.to_json())
                        )
            elif isinstance(outcome, Duplicate):
                self.duplicates += 1
                client.down.append(p.Ack(file=FILE, seq=outcome.seq, revision=outcome.revision))
            else:
                error = p.Error(
                    code=outcome.code, message=outcome.message, ref="op", file=FILE, seq=message.seq
                )
                self.errors.append(error)
                client.down.append(error)

    def deliver_down(self, client: SimulatedClient) -> None:
        client.sync.receive(client.down.popleft())
        self._pump(client)

    def trim_history(self) -> None:
        self.document.trim_history(self.rng.randint(0, 3))

    def step(self) -> None:
        """One random thing happens."""
        client = self.rng.choice(self.clients)
        roll = self.rng.random()
        if roll < 0.30:
            self.local_edit(client)
        elif roll < 0.55 and client.up:
            self.deliver_up(client)
        elif roll < 0.85 and client.down:
            self.deliver_down(client)
        elif roll < 0.92:
            if client.connected:
                self.disconnect(client)
            else:
                self.reconnect(client)
        elif roll < 0.93:
            self.trim_history()

    def drain(self) -> None:
        """Reconnect everyone and deliver until nothing is left in flight."""
        for client in self.clients:
            if not client.connected:
                self.reconnect(client)
        for _ in range(100_000):
            busy = [c for c in self.clients if c.up or c.down]
            if not busy:
                return
            client = self.rng.choice(busy)
            if client.up and (not client.down or self.rng.random() < 0.5):
                self.deliver_up(client)
            else:
                self.deliver_down(client)
        raise AssertionError("the network did not drain")

    def _pump(self, client: SimulatedClient) -> None:
        if client.connected:
            client.up.extend(client.sync.data_to_send())
        else:
            client.sync.data_to_send()  # nothing goes out while offline
        client.sync.events_received()


def _filler_runs(text: str) -> list[tuple[int, int]]:
    """Ranges of lowercase filler outside markers; only these may be deleted."""
    runs = []
    start = None
    for index, char in enumerate(text + "["):
        if char.islower() and start is None:
            start = index
        elif not char.islower() and start is not None:
            runs.append((start, index))
            start = None
    return runs


def _boundaries(text: str) -> list[int]:
    """Insert positions that are not inside a marker."""
    positions = [0]
    depth = 0
    for index, char in enumerate(text, 1):
        depth += char == "["
        depth -= char == "]"
        if depth == 0:
            positions.append(index)
    return positions
