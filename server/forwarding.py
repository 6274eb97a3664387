"""This relay process's side of a cluster: rooms owned elsewhere, envelopes, leases.

A ``RemoteRoom`` stands where a ``RoomWorker`` would for the clients of this
process in a room that another process owns: it turns their events into
envelopes for the owner. ``ClusterLink`` handles what arrives from other
processes (a forwarded client's messages for a room owned here, or the
owner's messages for a client connected here), renews the leases of the
rooms owned here, and sends forwarded clients away to reconnect when the
owner changed or messages may have been lost.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from websockets.asyncio.server import ServerConnection, broadcast

from pairtui.core import protocol as p
from pairtui.core.protocol import ErrorCode
from server import cluster as c
from server.auth import decide_role
from server.cluster import Cluster, Join, Leave, Message, RemotePeer
from server.logs import get_logger
from server.store.records import KeyHashes
from server.worker import CLOSE_POLICY, CLOSE_SERVICE_RESTART, CLOSE_TRY_AGAIN_LATER, RoomEvent

if TYPE_CHECKING:
    from server.relay import Relay

WELCOME_TIMEOUT = 5.0  # a forwarded join the owner never answers: its owner died


@dataclass
class RemoteRoom:
    """This process's clients of one room that ``owner`` runs."""

    name: str
    owner: str
    cluster: Cluster
    keys: KeyHashes | None
    """As when this process first forwarded to the room; joins read them afresh."""
    connections: dict[str, ServerConnection] = field(default_factory=dict)
    lost: bool = False

    @property
    def accepting(self) -> bool:
        return not self.lost

    def submit(self, event: RoomEvent) -> None:
        """Forward one client event to the owner, in order."""
        if event.join is not None:
            join, _, connection = event.join
            assert isinstance(connection, ServerConnection)
            self.connections[event.member] = connection
            envelope: Join | Message | Leave = Join(
                room=self.name,
                member=event.member,
                origin=self.cluster.process,
                frame=p.encode(join).decode(),
            )
        elif event.message is None:
            self.connections.pop(event.member, None)
            envelope = Leave(room=self.name, member=event.member)
        else:
            envelope = Message(
                room=self.name, member=event.member, frame=p.encode(event.message).decode()
            )
        self.cluster.send(self.owner, envelope)


class ClusterLink:
    """What one relay process does as a member of a cluster."""

    def __init__(self, relay: Relay, cluster: Cluster) -> None:
        self.relay = relay
        self.cluster = cluster
        self.remote_rooms: dict[str, RemoteRoom] = {}
        self.forwarded: dict[str, ServerConnection] = {}  # member -> connection, remote rooms
        self.answered: set[str] = set()  # forwarded members whose join the owner answered

    async def start(self) -> None:
        await self.cluster.start(self.on_envelope, self.after_failure)
        self.relay.spawn(self.keep_leases())

    def forward(self, member: str, connection: ServerConnection) -> None:
        """A client here joined a room owned elsewhere."""
        self.forwarded[member] = connection
        self.relay.spawn(self.expect_welcome(connection, member))

    def on_envelope(self, envelope: c.Envelope) -> None:
        """An envelope from another process: for a room owned here, or for a client here."""
        now = time.perf_counter()
        if isinstance(envelope, c.Deliver):
            targets = [self.forwarded[m] for m in envelope.members if m in self.forwarded]
            broadcast(targets, envelope.frame, text=True)
            if '"welcome"' in envelope.frame[:20]:
                self.answered.update(envelope.members)
            return
        if isinstance(envelope, c.Close):
            connection = self.forwarded.get(envelope.member)
            if connection is not None:
                self.relay.spawn(connection.close(envelope.code, envelope.reason))
            return
        worker = self.relay.rooms.get(envelope.room)
        if worker is None or not worker.accepting:
            if isinstance(envelope, c.Join):
                close = c.Close(member=envelope.member, code=CLOSE_SERVICE_RESTART, reason="moved")
                self.cluster.send(envelope.origin, close)
            return
        if isinstance(envelope, c.Leave):
            worker.submit(RoomEvent(envelope.member, None, now))
            return
        message = p.decode_client(envelope.frame)  # checked once already, where it arrived
        if isinstance(envelope, c.Join):
            assert isinstance(message, p.Join)
            # The owner decides with the keys it holds: the forwarder's copy may be older.
            role = decide_role(worker.room.keys, message.key, self.relay.config.require_keys)
            if role is None:
                refusal = p.Error(code=ErrorCode.BAD_KEY, message="this room needs a valid key")
                self.cluster.deliver(
                    [RemotePeer(envelope.origin, envelope.member)], p.encode(refusal)
                )
                close = c.Close(member=envelope.member, code=CLOSE_POLICY, reason="bad_key")
                self.cluster.send(envelope.origin, close)
                return
            peer = RemotePeer(envelope.origin, envelope.member)
            worker.submit(RoomEvent(envelope.member, None, now, join=(message, role, peer)))
        else:
            worker.submit(RoomEvent(envelope.member, message, now))

    async def keep_leases(self) -> None:
        """Renew the leases of rooms loaded here; drop rooms whose owner changed."""
        log = get_logger()
        renewed_at = time.monotonic()
        while True:
            await asyncio.sleep(c.RENEW_EVERY)
            asked = list(self.relay.rooms)  # rooms loaded while this runs are not in question
            try:
                held = await self.cluster.renew(asked)
                remote = list(self.remote_rooms.values())
                owners = await self.cluster.owners([room.name for room in remote])
            except Exception as error:  # Redis away: our leases run out on their own
                log.error("cannot renew room leases", extra={"reason": str(error)})
                if time.monotonic() - renewed_at > c.LEASE:
                    held, remote, owners = set(), list(self.remote_rooms.values()), []
                else:
                    continue
            else:
                renewed_at = time.monotonic()
            for name in [name for name in asked if name not in held and name in self.relay.rooms]:
                worker = self.relay.rooms[name]
                log.warning("lost a room's lease", extra={"room": name})
                self.relay.forget(worker)
                worker.task.cancel()
                worker.close_all(CLOSE_SERVICE_RESTART, "room moved to another relay process")
            for room, owner in itertools.zip_longest(remote, owners):
                if owner != room.owner:
                    self.drop_remote(room)

    def after_failure(self) -> None:
        """Envelopes may have been lost: everyone forwarded either way reconnects and resends."""
        get_logger().warning("cluster messages may be lost; forwarded clients reconnect")
        for room in list(self.remote_rooms.values()):
            self.drop_remote(room)
        for worker in self.relay.rooms.values():
            for member, peer in list(worker.connections.items()):
                if isinstance(peer, RemotePeer):
                    self.relay.close_peer(peer, CLOSE_SERVICE_RESTART, "relay processes lost touch")
                    worker.submit(RoomEvent(member, None, time.perf_counter()))

    def drop_remote(self, room: RemoteRoom) -> None:
        """The owner of a forwarded room is gone: its clients reconnect and find the new one."""
        room.lost = True
        if self.remote_rooms.get(room.name) is room:
            del self.remote_rooms[room.name]
        for connection in room.connections.values():
            self.relay.spawn(
                connection.close(CLOSE_SERVICE_RESTART, "the room's relay process changed")
            )

    async def expect_welcome(self, connection: ServerConnection, member: str) -> None:
        """A forwarded join that gets no answer means the owner died: try again later."""
        await asyncio.sleep(WELCOME_TIMEOUT)
        if member in self.answered:
            self.answered.discard(member)
        elif member in self.forwarded:
            await connection.close(CLOSE_TRY_AGAIN_LATER, "the room's relay process is silent")
