"""The relay's I/O shell: websockets in, rooms in the middle, a store underneath.

Each connection's handler only decodes frames, enforces limits and queues
events for its room's worker (``server/worker.py``), which stores and then
sends. With a ``Cluster`` (several processes on Redis) a room this process
does not own is a ``RemoteRoom``: events go to the owner and its messages
come back (``server/cluster.py``).

HTTP ``GET /healthz`` and ``GET /metrics`` are answered on the same port.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import ssl
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from redis.exceptions import RedisError
from websockets.asyncio.server import Server, ServerConnection, broadcast, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.typing import Origin

from pairtui import __version__
from pairtui.core import protocol as p
from pairtui.core.keys import read_key_for
from pairtui.core.protocol import ErrorCode, ProtocolError
from server import cluster as c
from server.auth import AdminTokens, decide_role, new_keys
from server.cluster import Cluster, RemotePeer
from server.forwarding import ClusterLink, RemoteRoom
from server.gate import Gate, GateLimits
from server.limits import RateLimit, TokenBucket
from server.logs import get_logger
from server.metrics import RelayMetrics
from server.room import Room, RoomLimits
from server.store.base import Store
from server.store.records import KeyHashes, StoreError
from server.worker import (
    CLOSE_POLICY,
    CLOSE_SERVICE_RESTART,
    CLOSE_TRY_AGAIN_LATER,
    Peer,
    RoomEvent,
    RoomWorker,
)

CLOSE_NORMAL = 1000
CLOSE_PROTOCOL = 1002


@dataclass(frozen=True)
class RelayConfig:
    """Everything ``pair serve`` can set."""

    host: str = "127.0.0.1"
    port: int = 8765
    max_frame: int = 1 << 20
    rate: RateLimit = field(default_factory=RateLimit)
    room_limits: RoomLimits = field(default_factory=RoomLimits)
    join_timeout: float = 10.0
    idle_timeout: float = 1800.0
    ping_interval: float | None = 20.0
    ping_timeout: float | None = 20.0
    room_linger: float = 30.0
    max_write_buffer: int = 16 << 20
    require_keys: bool = False
    """Refuse rooms without keys (a relay reachable from other machines)."""
    admin_tokens: AdminTokens = field(default_factory=AdminTokens)
    """Who may create rooms; none configured: anyone may create rooms with keys."""
    gate: GateLimits = field(default_factory=GateLimits)
    origins: tuple[str, ...] = ()
    """Browser origins allowed to connect; clients sending no Origin are always allowed."""
    ssl: ssl.SSLContext | None = None
    reuse_port: bool = False
    """Share the port with other relay processes (``pair serve --workers``)."""


class Relay:
    """A websocket relay serving rooms from one store."""

    def __init__(
        self, store: Store, config: RelayConfig | None = None, cluster: Cluster | None = None
    ) -> None:
        self.store = store
        self.config = config or RelayConfig()
        self.cluster = cluster
        self.metrics = RelayMetrics()
        self.metrics.gauges = lambda: (self.connections, len(self.rooms))
        self.rooms: dict[str, RoomWorker] = {}
        self.link = ClusterLink(self, cluster) if cluster is not None else None
        self._last_seen: dict[ServerConnection, float] = {}  # for the idle timeout
        self._member_prefix = f"m{cluster.process}x" if cluster else "m"
        self._loading: dict[str, asyncio.Lock] = {}
        self._ids = itertools.count(1)
        self._server: Server | None = None
        self._closing = False
        self._background: set[asyncio.Task[None]] = set()
        self.connections = 0
        self.gate = Gate(self.config.gate)

    @property
    def port(self) -> int:
        """The port actually bound (useful with port 0)."""
        assert self._server is not None, "the relay is not started"
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        config = self.config
        self._server = await serve(
            self._handle_connection,
            config.host,
            config.port,
            process_request=self._process_request,
            origins=[None, *(Origin(origin) for origin in config.origins)],
            ssl=config.ssl,
            max_size=config.max_frame,
            ping_interval=config.ping_interval,
            ping_timeout=config.ping_timeout,
            compression=None,
            server_header=f"pairtui/{__version__}",
            reuse_port=config.reuse_port,
        )
        self.spawn(self._close_idle())
        if self.link is not None:
            await self.link.start()
        process = self.cluster.process if self.cluster else None
        get_logger().info(
            "relay listening",
            extra={"host": config.host, "port": self.port, "relay_process": process},
        )

    async def shutdown(self) -> None:
        """Stop accepting, finish and store what is in flight, close clients with 1012."""
        if self._server is None or self._closing:
            return
        self._closing = True
        self._server.server.close()  # stop accepting; open connections carry on for now
        for worker in list(self.rooms.values()):
            await worker.drain()
            await self.released(worker.room.name)
        self._server.close(code=CLOSE_SERVICE_RESTART, reason="relay restarting")
        await self._server.wait_closed()
        for task in list(self._background):
            task.cancel()
        if self.cluster is not None:
            await self.cluster.close()
        get_logger().info("relay stopped")

    def spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        """Run ``coroutine`` in the background, keeping a reference until it ends."""
        task = asyncio.create_task(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def forget(self, worker: RoomWorker) -> None:
        if self.rooms.get(worker.room.name) is worker:
            del self.rooms[worker.room.name]

    async def released(self, room: str) -> None:
        """The room is no longer loaded here: let another process take it."""
        if self.cluster is not None and room not in self.rooms:
            await self.cluster.release(room)

    def send(self, peers: list[Peer], data: bytes) -> None:
        """One frame to members here and on other processes; a reader too slow is closed."""
        local = [peer for peer in peers if isinstance(peer, ServerConnection)]
        broadcast(local, data, text=True)
        if self.cluster is not None and len(local) < len(peers):
            self.cluster.deliver((p for p in peers if isinstance(p, RemotePeer)), data)
        for connection in local:
            transport = connection.transport
            if transport is not None and (
                transport.get_write_buffer_size() > self.config.max_write_buffer
            ):
                self.spawn(connection.close(CLOSE_POLICY, "too slow to keep up"))

    def close_peer(self, peer: Peer, code: int, reason: str) -> None:
        if isinstance(peer, ServerConnection):
            self.spawn(peer.close(code, reason))
        elif self.cluster is not None:
            self.cluster.send(peer.process, c.Close(member=peer.member, code=code, reason=reason))

    async def _close_idle(self) -> None:
        """Close connections silent for ``idle_timeout``: one sweep, not a timer a message."""
        timeout = self.config.idle_timeout
        while True:
            await asyncio.sleep(min(30.0, timeout / 4))
            cutoff = time.monotonic() - timeout
            for connection, seen in list(self._last_seen.items()):
                if seen < cutoff:
                    del self._last_seen[connection]
                    self.spawn(connection.close(1001, "idle for too long"))

    # -- HTTP -------------------------------------------------------------------------

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        path = request.path.split("?", 1)[0]
        if path == "/healthz":
            body = json.dumps(
                {
                    "status": "ok",
                    "version": __version__,
                    "rooms": len(self.rooms),
                    "connections": self.connections,
                    "tasks": len(asyncio.all_tasks()),
                }
            )
            return _response(HTTPStatus.OK, body.encode(), "application/json")
        if path == "/metrics":
            return _response(
                HTTPStatus.OK, self.metrics.render(), "text/plain; version=0.0.4; charset=utf-8"
            )
        refusal = self.gate.refusal(_address(connection), time.monotonic())
        if refusal is not None:
            self.metrics.error(ErrorCode.RATE_LIMITED.value)
            get_logger().warning("connection refused", extra={"address": _address(connection)})
            return _response(HTTPStatus.TOO_MANY_REQUESTS, refusal.encode(), "text/plain")
        return None

    # -- websockets -------------------------------------------------------------------

    async def _handle_connection(self, connection: ServerConnection) -> None:
        connection_id = next(self._ids)
        log = get_logger()
        address = _address(connection)
        self.connections += 1
        log.info("connection opened", extra={"conn": connection_id, "address": address})
        try:
            if not self.gate.opened(address):
                await self._refuse(
                    connection,
                    ErrorCode.RATE_LIMITED,
                    "too many connections from your address",
                    CLOSE_TRY_AGAIN_LATER,
                )
                return
            await self._serve_connection(connection, connection_id)
        except ConnectionClosed:
            pass
        finally:
            self.gate.closed(address)
            self.connections -= 1
            log.info(
                "connection closed", extra={"conn": connection_id, "code": connection.close_code}
            )

    async def _serve_connection(self, connection: ServerConnection, connection_id: int) -> None:
        first = await self._receive_join(connection)
        if first is None:
            return
        address = _address(connection)
        locked_for = self.gate.attempts.locked_for(address, time.monotonic())
        if locked_for:
            await self._refuse(
                connection,
                ErrorCode.RATE_LIMITED,
                f"too many wrong keys or tokens from your address; try again in {locked_for:.0f} s",
                CLOSE_POLICY,
            )
            return
        try:
            if isinstance(first, p.CreateRoom):
                await self._create_room(connection, first)
                return
            admitted = await self._admit(connection, first)
        except StoreError as error:
            get_logger().error("cannot load room", extra={"room": first.room, "reason": str(error)})
            await self._refuse(
                connection,
                ErrorCode.STORAGE_UNAVAILABLE,
                "the relay cannot load this room right now; try again shortly",
                CLOSE_TRY_AGAIN_LATER,
            )
            return
        if admitted is None:
            return
        worker, role = admitted
        join = first
        member = f"{self._member_prefix}{connection_id}"
        get_logger().info(
            "joined",
            extra={"conn": connection_id, "room": join.room, "member": member, "role": role},
        )
        if isinstance(worker, RemoteRoom) and self.link is not None:
            self.link.forward(member, connection)
        worker.submit(RoomEvent(member, None, time.perf_counter(), join=(join, role, connection)))
        self._last_seen[connection] = time.monotonic()
        try:
            await self._pump(connection, worker, member)
        finally:
            self._last_seen.pop(connection, None)
            if self.link is not None:
                self.link.forwarded.pop(member, None)
            if worker.accepting:
                worker.submit(RoomEvent(member, None, time.perf_counter()))

    async def _admit(
        self, connection: ServerConnection, join: p.Join
    ) -> tuple[RoomWorker | RemoteRoom, p.Role] | None:
        """The room and the role this join's key gives, or ``None`` (refused and closed)."""
        open_room_wanted = join.key is None and not self.config.require_keys
        worker = await self._room(join.room, create=open_room_wanted)
        role: p.Role | None = None
        if worker is not None:
            keys = worker.keys
            if isinstance(worker, RemoteRoom):  # the owner may have rotated them meanwhile
                stored = await self.store.load_keys(join.room)
                keys = stored[0] if stored else None
            role = decide_role(keys, join.key, self.config.require_keys)
        if role is None:
            await self._failed_secret(
                connection,
                join.room,
                ErrorCode.BAD_KEY,
                "this room needs a valid key: ask someone in it for an invite link "
                "(pair invite), then run 'pair join LINK'",
            )
            return None
        if join.key is not None:
            self.gate.attempts.succeeded(_address(connection))
        assert worker is not None
        return worker, role

    async def _create_room(self, connection: ServerConnection, message: p.CreateRoom) -> None:
        """Create a room with keys (or give an open one keys) and hand its creator the keys."""
        tokens = self.config.admin_tokens
        if tokens.required and not tokens.allows(message.token):
            await self._failed_secret(
                connection,
                message.room,
                ErrorCode.BAD_TOKEN,
                "creating rooms on this relay needs an admin token: "
                "run 'pair login --server URL' with one from the relay's operator",
            )
            return
        write_key, keys = new_keys()
        worker = await self._room(message.room, create=True, keys=keys)
        assert worker is not None
        if isinstance(worker, RemoteRoom):
            code = ErrorCode.ROOM_EXISTS if worker.keys else ErrorCode.STORAGE_UNAVAILABLE
            await self._refuse(
                connection,
                code,
                f"room {message.room!r} is in use on another relay process: "
                + ("ask its members for an invite link" if worker.keys else "try again shortly"),
                CLOSE_POLICY,
            )
            return
        if worker.room.keys is None:
            lock: asyncio.Future[str] = asyncio.get_running_loop().create_future()
            worker.submit(RoomEvent("", None, time.perf_counter(), lock=lock))
            write_key = await lock
        elif worker.room.keys is not keys:
            await self._refuse(
                connection,
                ErrorCode.ROOM_EXISTS,
                f"room {message.room!r} exists already and has keys: ask its members for an "
                "invite link, or choose another name",
                CLOSE_POLICY,
            )
            return
        get_logger().info("room keys created", extra={"room": message.room})
        room_keys = p.RoomKeys(
            room=message.room, read_key=read_key_for(write_key), write_key=write_key
        )
        await connection.send(p.encode(room_keys), text=True)
        await connection.close(CLOSE_NORMAL, "room created")

    async def _failed_secret(
        self, connection: ServerConnection, room: str, code: ErrorCode, message: str
    ) -> None:
        """A wrong key or token: logged without it, answered late, and counted per address."""
        address = _address(connection)
        delay = self.gate.attempts.failed(address, time.monotonic())
        get_logger().warning(
            "wrong key or token", extra={"room": room, "address": address, "code": code.value}
        )
        await asyncio.sleep(delay)
        await self._refuse(connection, code, message, CLOSE_POLICY)

    async def _receive_join(self, connection: ServerConnection) -> p.Join | p.CreateRoom | None:
        try:
            async with asyncio.timeout(self.config.join_timeout):
                frame = await connection.recv()
        except TimeoutError:
            await self._refuse(connection, ErrorCode.NOT_JOINED, "send join first", CLOSE_POLICY)
            return None
        try:
            message = self._decode(frame)
        except ProtocolError as error:
            await self._refuse(connection, error.code, error.message, CLOSE_POLICY)
            return None
        if not isinstance(message, (p.Join, p.CreateRoom)):
            await self._refuse(
                connection,
                ErrorCode.NOT_JOINED,
                "the first message must be join (or create_room)",
                CLOSE_POLICY,
            )
            return None
        if message.protocol != p.PROTOCOL_VERSION:
            await self._refuse(
                connection,
                ErrorCode.UNSUPPORTED_PROTOCOL,
                f"this relay speaks protocol {p.PROTOCOL_VERSION}, not {message.protocol}; "
                "upgrade the older side",
                CLOSE_PROTOCOL,
            )
            return None
        return message

    async def _pump(
        self, connection: ServerConnection, worker: RoomWorker | RemoteRoom, member: str
    ) -> None:
        bucket = TokenBucket(self.config.rate, time.monotonic())
        warned_at = 0.0
        flooded = False
        while True:
            frame = await connection.recv()  # an idle one is closed by _close_idle
            received = time.perf_counter()
            self.metrics.messages += 1
            now = time.monotonic()
            self._last_seen[connection] = now
            if flooded:
                continue  # drain until the close handshake completes
            if not bucket.allow(now):
                self._refuse_op_for_rate(connection, frame)
                if bucket.flooding:
                    # Keep reading (and dropping) so the client's close frame is not
                    # stuck behind the flood in our receive buffer.
                    flooded = True
                    self.spawn(connection.close(CLOSE_POLICY, "message flood"))
                    continue
                if now - warned_at > 1.0:
                    warned_at = now
                    self._send_error(
                        connection,
                        ErrorCode.RATE_LIMITED,
                        "too many messages; slow down or you will be disconnected",
                    )
                continue
            if not worker.accepting or self._closing:
                continue  # the room failed, or the relay is closing: this connection is next
            try:
                message = self._decode(frame)
            except ProtocolError as error:
                self._send_error(connection, error.code, error.message)
                continue
            worker.submit(RoomEvent(member, message, received))

    def _refuse_op_for_rate(self, connection: ServerConnection, frame: str | bytes) -> None:
        """An op dropped for rate must say so by seq, or its sender waits forever for an ack."""
        if isinstance(frame, bytes) or '"op"' not in frame:
            return
        try:
            message = p.decode_client(frame)
        except ProtocolError:
            return
        if isinstance(message, p.Op):
            self.metrics.error(ErrorCode.RATE_LIMITED.value)
            error = p.Error(
                code=ErrorCode.RATE_LIMITED,
                ref="op",
                file=message.file,
                seq=message.seq,
                message="edit not applied: too many messages; resend it",
            )
            broadcast([connection], p.encode(error), text=True)

    def _decode(self, frame: str | bytes) -> p.ClientMessage:
        if isinstance(frame, bytes):
            raise ProtocolError(ErrorCode.BAD_FRAME, "send JSON in text frames, not binary")
        return p.decode_client(frame)

    def _send_error(self, connection: ServerConnection, code: ErrorCode, message: str) -> None:
        self.metrics.error(code.value)
        broadcast([connection], p.encode(p.Error(code=code, message=message)), text=True)

    async def _refuse(
        self, connection: ServerConnection, code: ErrorCode, message: str, close_code: int
    ) -> None:
        self._send_error(connection, code, message)
        await connection.close(close_code, code.value)

    async def _room(
        self, name: str, *, create: bool, keys: KeyHashes | None = None
    ) -> RoomWorker | RemoteRoom | None:
        """The room: loaded here (from the store, or made when ``create``), or, in a
        cluster, forwarded to the process that owns it; ``None`` if it does not exist."""
        worker = self.rooms.get(name) or self._remote(name)
        if worker is not None:
            return worker
        lock = self._loading.setdefault(name, asyncio.Lock())
        try:
            async with lock:
                return self.rooms.get(name) or await self._load(name, create, keys)
        finally:
            self._loading.pop(name, None)

    def _remote(self, name: str) -> RemoteRoom | None:
        room = self.link.remote_rooms.get(name) if self.link is not None else None
        return room if room is not None and room.accepting else None

    async def _load(
        self, name: str, create: bool, keys: KeyHashes | None
    ) -> RoomWorker | RemoteRoom | None:
        if self.cluster is not None:
            try:
                owner = await self.cluster.acquire(name)
            except (RedisError, OSError) as error:
                raise StoreError(f"cannot reach Redis for the room's lease: {error}") from error
            if owner != self.cluster.process:
                keys_now = await self.store.load_keys(name)
                for _ in range(20):  # the owner may be storing the room it just created
                    if keys_now is not None:
                        break
                    await asyncio.sleep(0.05)
                    keys_now = await self.store.load_keys(name)
                if keys_now is None:
                    raise StoreError(f"room {name!r} is owned by another process but not stored")
                room = RemoteRoom(name, owner, self.cluster, keys_now[0])
                assert self.link is not None
                self.link.remote_rooms[name] = room
                return room
        limits = self.config.room_limits
        try:
            record = await self.store.load_room(name, history=limits.history)
            if record is None:
                if not create:
                    await self.released(name)
                    return None
                room_here, effects = Room.create(name, time.time(), limits, keys)
                await self.store.commit(effects.writes)
            else:
                room_here = Room(record, limits)
        except BaseException:
            await self.released(name)
            raise
        worker = RoomWorker(self, room_here)
        self.rooms[name] = worker
        return worker


def _address(connection: ServerConnection) -> str:
    remote = connection.remote_address
    return str(remote[0]) if remote else "?"


def _response(status: HTTPStatus, body: bytes, content_type: str) -> Response:
    headers = Headers(
        [
            ("Content-Type", content_type),
            ("Content-Length", str(len(body))),
            ("Cache-Control", "no-store"),
        ]
    )
    return Response(status.value, status.phrase, headers, body)
