"""The relay's I/O shell: websockets in, rooms in the middle, a store underneath.

Each connection's handler only decodes frames, enforces limits and queues
events for its room. Each loaded room has one worker task that takes the
queued events in batches, runs them through the sans-I/O ``Room``, commits
the batch's writes to the store, and only then sends the batch's messages:
an ack always means "stored". If the store refuses, the room is unloaded
(its memory may hold unstored edits), its members are told
``storage_unavailable`` and disconnected; they reconnect and resend, and
nothing acknowledged was ever lost.

HTTP ``GET /healthz`` and ``GET /metrics`` are answered on the same port.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import ssl
import time
from collections.abc import Coroutine, Iterable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, broadcast, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.typing import Origin

from pairtui import __version__
from pairtui.core import protocol as p
from pairtui.core.keys import read_key_for
from pairtui.core.protocol import ErrorCode, ProtocolError
from server.auth import AdminTokens, new_keys, role_for
from server.gate import Gate, GateLimits
from server.limits import RateLimit, TokenBucket
from server.logs import get_logger
from server.metrics import RelayMetrics
from server.room import Broadcast, Disconnect, Effects, Reply, Room, RoomLimits
from server.store.base import Store
from server.store.records import KeyHashes, StoreError

CLOSE_NORMAL = 1000
CLOSE_SERVICE_RESTART = 1012
CLOSE_TRY_AGAIN_LATER = 1013
CLOSE_POLICY = 1008
CLOSE_PROTOCOL = 1002
MAX_BATCH = 256


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


@dataclass
class _Event:
    member: str
    message: p.ClientMessage | None  # None: the member left
    received: float
    join: tuple[p.Join, p.Role, ServerConnection] | None = None
    stop: bool = False  # the worker finishes what came before, then ends
    lock: asyncio.Future[str] | None = None  # give the open room keys; the write key comes back


class RoomWorker:
    """Owns one loaded room: its queue, its connections, its worker task."""

    def __init__(self, relay: Relay, room: Room) -> None:
        self.relay = relay
        self.room = room
        self.queue: asyncio.Queue[_Event] = asyncio.Queue()
        self.connections: dict[str, ServerConnection] = {}
        self.task = asyncio.create_task(self._run(), name=f"room:{room.name}")

    def submit(self, event: _Event) -> None:
        self.queue.put_nowait(event)

    async def _run(self) -> None:
        log = get_logger()
        while True:
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
                self.relay.metrics.commits.inc()
            try:
                self._deliver(effects)
            except Exception:  # stored already: a bug in sending must not stop the room
                log.exception("room failed to deliver", extra={"room": self.room.name})
            self._observe(batch, effects)
            if stopping:
                return

    def _handle(self, event: _Event, now: float) -> Effects:
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
                    self.relay.spawn(removed.close(CLOSE_POLICY, "removed from the room"))
                continue
            data = p.encode(outgoing.message)
            if isinstance(outgoing, Broadcast):
                targets = self._audience(outgoing)
            else:
                connection = self.connections.get(outgoing.member)
                targets = [] if connection is None else [connection]
            broadcast(targets, data, text=True)
            for connection in targets:
                transport = connection.transport
                if transport is not None and (
                    transport.get_write_buffer_size() > self.relay.config.max_write_buffer
                ):
                    self.relay.spawn(connection.close(CLOSE_POLICY, "too slow to keep up"))

    def _audience(self, outgoing: Broadcast) -> list[ServerConnection]:
        """Members still in the room (one removed earlier in this batch is not)."""
        members = self.room.members
        audience = []
        for member, connection in self.connections.items():
            state = members.get(member)
            if state is None or member == outgoing.exclude:
                continue
            if outgoing.file is None or outgoing.file in state.open_files:
                audience.append(connection)
        return audience

    def _observe(self, batch: Iterable[_Event], effects: Effects) -> None:
        metrics = self.relay.metrics
        done = time.perf_counter()
        for event in batch:
            if isinstance(event.message, p.Op):
                metrics.op_latency.observe(done - event.received)
        if effects.ops_applied:
            metrics.ops_applied.inc(effects.ops_applied)
        for code in effects.errors:
            metrics.errors.labels(code=code.value).inc()

    async def _fail_storage(self) -> None:
        """Drop this room from memory and send its members away to come back later."""
        self.relay.forget(self)
        error = p.Error(
            code=ErrorCode.STORAGE_UNAVAILABLE,
            message="the relay cannot store edits right now; yours are kept and will be resent",
        )
        self.relay.metrics.errors.labels(code=ErrorCode.STORAGE_UNAVAILABLE.value).inc()
        connections = list(self.connections.values())
        broadcast(connections, p.encode(error), text=True)
        for connection in connections:
            await connection.close(CLOSE_TRY_AGAIN_LATER, "storage unavailable")

    async def _unload(self) -> None:
        self.relay.forget(self)
        with contextlib.suppress(StoreError):
            await self.relay.store.commit(self.room.snapshot_writes())

    async def drain(self) -> None:
        """Finish and store what is queued (for a graceful shutdown), then stop."""
        self.submit(_Event("", None, time.perf_counter(), stop=True))
        await self.task
        with contextlib.suppress(StoreError):
            await self.relay.store.commit(self.room.snapshot_writes())


class Relay:
    """A websocket relay serving rooms from one store."""

    def __init__(self, store: Store, config: RelayConfig | None = None) -> None:
        self.store = store
        self.config = config or RelayConfig()
        self.metrics = RelayMetrics()
        self.rooms: dict[str, RoomWorker] = {}
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
        )
        get_logger().info("relay listening", extra={"host": config.host, "port": self.port})

    async def shutdown(self) -> None:
        """Stop accepting, finish and store what is in flight, close clients with 1012."""
        if self._server is None or self._closing:
            return
        self._closing = True
        self._server.server.close()  # stop accepting; open connections carry on for now
        for worker in list(self.rooms.values()):
            await worker.drain()
        self._server.close(code=CLOSE_SERVICE_RESTART, reason="relay restarting")
        await self._server.wait_closed()
        get_logger().info("relay stopped")

    def spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        """Run ``coroutine`` in the background, keeping a reference until it ends."""
        task = asyncio.create_task(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def forget(self, worker: RoomWorker) -> None:
        if self.rooms.get(worker.room.name) is worker:
            del self.rooms[worker.room.name]
            self.metrics.rooms.set(len(self.rooms))

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
                }
            )
            return _response(HTTPStatus.OK, body.encode(), "application/json")
        if path == "/metrics":
            return _response(
                HTTPStatus.OK, self.metrics.render(), "text/plain; version=0.0.4; charset=utf-8"
            )
        refusal = self.gate.refusal(_address(connection), time.monotonic())
        if refusal is not None:
            self.metrics.errors.labels(code=ErrorCode.RATE_LIMITED.value).inc()
            get_logger().warning("connection refused", extra={"address": _address(connection)})
            return _response(HTTPStatus.TOO_MANY_REQUESTS, refusal.encode(), "text/plain")
        return None

    # -- websockets -------------------------------------------------------------------

    async def _handle_connection(self, connection: ServerConnection) -> None:
        connection_id = next(self._ids)
        log = get_logger()
        address = _address(connection)
        self.connections += 1
        self.metrics.connections.inc()
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
            self.metrics.connections.dec()
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
        member = f"m{connection_id}"
        get_logger().info(
            "joined",
            extra={"conn": connection_id, "room": join.room, "member": member, "role": role},
        )
        worker.submit(_Event(member, None, time.perf_counter(), join=(join, role, connection)))
        try:
            await self._pump(connection, worker, member)
        finally:
            current = self.rooms.get(join.room)
            if current is worker:
                worker.submit(_Event(member, None, time.perf_counter()))

    async def _admit(
        self, connection: ServerConnection, join: p.Join
    ) -> tuple[RoomWorker, p.Role] | None:
        """The room and the role this join's key gives, or ``None`` (refused and closed)."""
        open_room_wanted = join.key is None and not self.config.require_keys
        worker = await self._room(join.room, create=open_room_wanted)
        role: p.Role | None = None
        if worker is not None:
            keys = worker.room.keys
            if keys is not None:
                role = role_for(keys, join.key)
            elif not self.config.require_keys and join.key is None:
                role = "write"
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
        if worker.room.keys is None:
            lock: asyncio.Future[str] = asyncio.get_running_loop().create_future()
            worker.submit(_Event("", None, time.perf_counter(), lock=lock))
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

    async def _pump(self, connection: ServerConnection, worker: RoomWorker, member: str) -> None:
        bucket = TokenBucket(self.config.rate, time.monotonic())
        warned_at = 0.0
        flooded = False
        while True:
            try:
                async with asyncio.timeout(self.config.idle_timeout):
                    frame = await connection.recv()
            except TimeoutError:
                await connection.close(1001, "idle for too long")
                return
            received = time.perf_counter()
            self.metrics.messages.inc()
            now = time.monotonic()
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
            if worker.task.done() or self._closing:
                continue  # the room failed, or the relay is closing: this connection is next
            try:
                message = self._decode(frame)
            except ProtocolError as error:
                self._send_error(connection, error.code, error.message)
                continue
            worker.submit(_Event(member, message, received))

    def _refuse_op_for_rate(self, connection: ServerConnection, frame: str | bytes) -> None:
        """An op dropped for rate must say so by seq, or its sender waits forever for an ack."""
        if isinstance(frame, bytes) or '"op"' not in frame:
            return
        try:
            message = p.decode_client(frame)
        except ProtocolError:
            return
        if isinstance(message, p.Op):
            self.metrics.errors.labels(code=ErrorCode.RATE_LIMITED.value).inc()
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
        self.metrics.errors.labels(code=code.value).inc()
        broadcast([connection], p.encode(p.Error(code=code, message=message)), text=True)

    async def _refuse(
        self, connection: ServerConnection, code: ErrorCode, message: str, close_code: int
    ) -> None:
        self._send_error(connection, code, message)
        await connection.close(close_code, code.value)

    async def _room(
        self, name: str, *, create: bool, keys: KeyHashes | None = None
    ) -> RoomWorker | None:
        """The loaded room; loaded from the store, or with ``create`` made (with ``keys``)."""
        worker = self.rooms.get(name)
        if worker is not None:
            return worker
        lock = self._loading.setdefault(name, asyncio.Lock())
        async with lock:
            worker = self.rooms.get(name)
            if worker is not None:
                return worker
            limits = self.config.room_limits
            record = await self.store.load_room(name, history=limits.history)
            if record is None:
                if not create:
                    self._loading.pop(name, None)
                    return None
                room, effects = Room.create(name, time.time(), limits, keys)
                await self.store.commit(effects.writes)
            else:
                room = Room(record, limits)
            worker = RoomWorker(self, room)
            self.rooms[name] = worker
            self.metrics.rooms.set(len(self.rooms))
        self._loading.pop(name, None)
        return worker


def _address(connection: ServerConnection) -> str:
    remote = connection.remote_address
    return str(remote[0]) if remote else "?"


def _internal_error(member: str) -> Effects:
    error = p.Error(code=ErrorCode.INTERNAL, message="the relay failed on this message (a bug)")
    return Effects(messages=[Reply(member, error)], errors=[ErrorCode.INTERNAL])


def _response(status: HTTPStatus, body: bytes, content_type: str) -> Response:
    headers = Headers(
        [
            ("Content-Type", content_type),
            ("Content-Length", str(len(body))),
            ("Cache-Control", "no-store"),
        ]
    )
    return Response(status.value, status.phrase, headers, body)
