"""One loaded room's worker: it takes queued events in batches, stores, then sends.

Each loaded room has one worker task that takes the queued events in
batches, runs them through the sans-I/O ``Room``, commits the batch's writes
to the store, and only then sends the batch's messages: an ack always means
"stored". If the store refuses, the room is unloaded (its memory may hold
unstored edits), its members are told ``storage_unavailable`` and
disconnected; they reconnect and resend, and nothing acknowledged was ever
lost. A member is a local connection or, in a cluster, a ``RemotePeer``
connected to another relay process.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeAlias

from websockets.asyncio.server import ServerConnection

from pairtui.core import protocol as p
from pairtui.core.protocol import ErrorCode
from server.cluster import RemotePeer
from server.logs import get_logger
from server.room import Broadcast, Disconnect, Effects, Reply, Room
from server.store.records import KeyHashes, StoreError

if TYPE_CHECKING:
    from server.relay import Relay

CLOSE_POLICY = 1008
CLOSE_SERVICE_RESTART = 1012
CLOSE_TRY_AGAIN_LATER = 1013
MAX_BATCH = 256
Peer: TypeAlias = ServerConnection | RemotePeer


@dataclass
class RoomEvent:
    member: str
    message: p.ClientMessage | None  # None: the member left
    received: float
    join: tuple[p.Join, p.Role, Peer] | None = None
    stop: bool = False  # the worker finishes what came before, then ends
    lock: asyncio.Future[str] | None = None  # give the open room keys; the write key comes back


class RoomWorker:
    """Owns one loaded room: its queue, its connections, its worker task."""

    def __init__(self, relay: Relay, room: Room) -> None:
        self.relay = relay
        self.room = room
        self.queue: asyncio.Queue[RoomEvent] = asyncio.Queue()
        self.connections: dict[str, Peer] = {}
        self.task = asyncio.create_task(self._run(), name=f"room:{room.name}")

    def submit(self, event: RoomEvent) -> None:
        self.queue.put_nowait(event)

    @property
    def accepting(self) -> bool:
        """Whether events may still be queued (the room did not fail or stop)."""
        return not self.task.done()

    @property
    def keys(self) -> KeyHashes | None:
        return self.room.keys

    async def _run(self) -> None:
        log = get_logger()
        while True:
            if not self.room.empty:
                first = await self.queue.get()  # no timer a batch: the room is in use
            else:
                try:
                    async with asyncio.timeout(self.relay.config.room_linger):
                        first = await self.queue.get()
                except TimeoutError:
                    if self.room.empty and self.queue.empty():
                        await self._unload()
                        return
                    continue
            batch = [first]
            while len(batch) < MAX_BATCH and not self.queue.empty():
                batch.append(self.queue.get_nowait())
            stopping = any(event.stop for event in batch)
            if stopping:
                batch = batch[: next(i for i, e in enumerate(batch) if e.stop)]
            effects = Effects()
            now = time.time()
            locks: list[tuple[asyncio.Future[str], str]] = []
            for event in batch:
                try:
                    if event.lock is not None:
                        write_key, locked = self.room.lock()
                        locks.append((event.lock, write_key))
                        effects.extend(locked)
                    else:
                        effects.extend(self._handle(event, now))
                except Exception:  # a bug must cost one message, not the room
                    log.exception("room failed on a message", extra={"room": self.room.name})
                    effects.extend(_internal_error(event.member))
            try:
                await self.relay.store.commit(effects.writes)
            except StoreError as error:
                log.error(
                    "store refused a commit", extra={"room": self.room.name, "reason": str(error)}
                )
                for future, _ in locks:
                    future.set_exception(error)
                await self._fail_storage()
                return
            for future, write_key in locks:
                future.set_result(write_key)
            if effects.writes:
                self.relay.metrics.commits += 1
            try:
                self._deliver(effects)
            except Exception:  # stored already: a bug in sending must not stop the room
                log.exception("room failed to deliver", extra={"room": self.room.name})
            self._observe(batch, effects)
            if stopping:
                return

    def _handle(self, event: RoomEvent, now: float) -> Effects:
        if event.join is not None:
            join, role, connection = event.join
            self.connections[event.member] = connection
            return self.room.join(event.member, join, role)
        if event.message is None:
            self.connections.pop(event.member, None)
            return self.room.leave(event.member)
        return self.room.handle(event.member, event.message, now)

    def _deliver(self, effects: Effects) -> None:
        for outgoing in effects.messages:
            if isinstance(outgoing, Disconnect):
                removed = self.connections.pop(outgoing.member, None)
                if removed is not None:
                    self.relay.close_peer(removed, CLOSE_POLICY, "removed from the room")
                continue
            data = p.encode(outgoing.message)
            if isinstance(outgoing, Broadcast):
                targets = self._audience(outgoing)
            else:
                peer = self.connections.get(outgoing.member)
                targets = [] if peer is None else [peer]
            self.relay.send(targets, data)

    def _audience(self, outgoing: Broadcast) -> list[Peer]:
        """Members still in the room (one removed earlier in this batch is not)."""
        members = self.room.members
        audience: list[Peer] = []
        for member, connection in self.connections.items():
            state = members.get(member)
            if state is None or member == outgoing.exclude:
                continue
            if outgoing.file is None or outgoing.file in state.open_files:
                audience.append(connection)
        return audience

    def _observe(self, batch: Iterable[RoomEvent], effects: Effects) -> None:
        metrics = self.relay.metrics
        done = time.perf_counter()
        for event in batch:
            if isinstance(event.message, p.Op):
                metrics.op_latency.observe(done - event.received)
        if effects.ops_applied:
            metrics.ops_applied += effects.ops_applied
        for code in effects.errors:
            metrics.error(code.value)

    async def _fail_storage(self) -> None:
        """Drop this room from memory and send its members away to come back later."""
        self.relay.forget(self)
        error = p.Error(
            code=ErrorCode.STORAGE_UNAVAILABLE,
            message="the relay cannot store edits right now; yours are kept and will be resent",
        )
        self.relay.metrics.error(ErrorCode.STORAGE_UNAVAILABLE.value)
        while not self.queue.empty():  # joins that came while the commit failed: no welcome
            event = self.queue.get_nowait()  # will ever answer them, so they go too
            if event.join is not None:
                self.connections[event.member] = event.join[2]
        self.close_all(CLOSE_TRY_AGAIN_LATER, "storage unavailable", error)

    def close_all(self, code: int, reason: str, error: p.Error | None = None) -> None:
        """Send every member away (they reconnect by themselves), telling them why."""
        peers = list(self.connections.values())
        if error is not None:
            self.relay.send(peers, p.encode(error))
        for peer in peers:
            self.relay.close_peer(peer, code, reason)

    async def _unload(self) -> None:
        self.relay.forget(self)
        with contextlib.suppress(StoreError):
            await self.relay.store.commit(self.room.snapshot_writes())
        await self.relay.released(self.room.name)

    async def drain(self) -> None:
        """Finish and store what is queued (for a graceful shutdown), then stop."""
        self.submit(RoomEvent("", None, time.perf_counter(), stop=True))
        await self.task
        with contextlib.suppress(StoreError):
            await self.relay.store.commit(self.room.snapshot_writes())


def _internal_error(member: str) -> Effects:
    error = p.Error(code=ErrorCode.INTERNAL, message="the relay failed on this message (a bug)")
    return Effects(messages=[Reply(member, error)], errors=[ErrorCode.INTERNAL])
