"""The forwarding side of a cluster: a room owned by another relay process.

A ``RemoteRoom`` stands where a ``RoomWorker`` would for the clients of this
process in a room that another process owns: it turns their events into
envelopes for the owner. What the owner sends back arrives through
``Relay.on_envelope`` and goes straight to the client's connection.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from websockets.asyncio.server import ServerConnection

from pairtui.core import protocol as p
from server.cluster import Cluster, Join, Leave, Message
from server.store.records import KeyHashes

if TYPE_CHECKING:
    from server.worker import RoomEvent


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
