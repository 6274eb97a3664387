"""A bare websocket peer for tests that must send exactly the frames they choose."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from pairtui.core import protocol as p


class RawPeer:
    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection

    @classmethod
    async def join(
        cls, url: str, room: str = "demo", client_id: str = "raw-client-0123456789", **fields: Any
    ) -> tuple[RawPeer, dict[str, Any]]:
        connection = await connect(url, max_size=None, compression=None)
        peer = cls(connection)
        message = {
            "type": "join",
            "protocol": 1,
            "room": room,
            "name": "raw",
            "client_id": client_id,
            **fields,
        }
        await peer.send(message)
        welcome = await peer.expect("welcome")
        return peer, welcome

    async def send(self, message: dict[str, Any] | str | bytes) -> None:
        frame = json.dumps(message) if isinstance(message, dict) else message
        await self.connection.send(frame)

    async def receive(self, timeout: float = 5.0) -> dict[str, Any]:
        async with asyncio.timeout(timeout):
            frame = await self.connection.recv()
        decoded: dict[str, Any] = json.loads(frame)
        return decoded

    async def expect(self, kind: str, timeout: float = 5.0) -> dict[str, Any]:
        """The next message of type ``kind``, skipping presence and membership noise."""
        while True:
            message = await self.receive(timeout)
            if message["type"] == kind:
                return message
            if message["type"] not in ("member_joined", "member_left", "presence", "files"):
                raise AssertionError(f"expected {kind}, got {message}")

    async def close(self) -> None:
        await self.connection.close()


def op_frame(file: str, revision: int, seq: int, op: list[int | str]) -> dict[str, Any]:
    return json.loads(p.encode(p.Op(file=file, revision=revision, seq=seq, op=op)))
