"""Several relay processes on one Redis: each room has one owner, the others forward to it.

A room's logic stays single-threaded: exactly one process at a time holds a
room's lease (``P:owner:ROOM``, a Redis key with a short expiry that the owner
renews) and runs its ``Room``. A client may connect to any process; a process
that does not own the room forwards the client's messages to the owner and
the owner's messages back, over Redis pub/sub (one channel per process).
Edits are stored by the owner with the store's compare-and-set, so even two
processes that both believe they own a room (a stalled owner whose lease ran
out) cannot both store a revision: the loser finds out, drops the room, and
its clients reconnect.

When an owner dies its leases expire within ``LEASE`` seconds. Forwarding
processes notice (they check the owner of each room they forward) and close
those clients with 1012; they reconnect, the next join takes the lease, and
the room is loaded from Redis with every acknowledged edit. Clients resend
whatever was not acknowledged.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TypeAlias

import msgspec
import redis.asyncio as aioredis
import redis.exceptions

from server.logs import get_logger

LEASE = 2.0  # seconds a room's lease lasts without renewal
RENEW_EVERY = 0.5
RENEW = """
local held = {}
for i = 4, #ARGV do
  local key = ARGV[1] .. ':owner:' .. ARGV[i]
  if redis.call('GET', key) == ARGV[2] then
    redis.call('PEXPIRE', key, ARGV[3])
    table.insert(held, ARGV[i])
  end
end
return held
"""
RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class Join(msgspec.Struct, tag="join", frozen=True):
    """A client of ``origin`` joins ``room`` (forwarded to the owner)."""

    room: str
    member: str
    origin: str
    frame: str  # the join itself, key included: the owner checks it against its keys


class Message(msgspec.Struct, tag="msg", frozen=True):
    """A client message, forwarded to the owner."""

    room: str
    member: str
    frame: str


class Leave(msgspec.Struct, tag="leave", frozen=True):
    """A forwarded client's connection ended."""

    room: str
    member: str


class Deliver(msgspec.Struct, tag="out", frozen=True):
    """The owner sends ``frame`` to these members, connected to the receiving process."""

    members: list[str]
    frame: str


class Close(msgspec.Struct, tag="close", frozen=True):
    """The owner closes a forwarded member's connection."""

    member: str
    code: int
    reason: str


Envelope: TypeAlias = Join | Message | Leave | Deliver | Close
_decoder = msgspec.json.Decoder(Envelope)
_encoder = msgspec.json.Encoder()


@dataclass(frozen=True)
class RemotePeer:
    """A member connected to another process, as the owner sees them."""

    process: str
    member: str


class Cluster:
    """This process's leases, its channel, and an ordered publisher."""

    def __init__(self, client: aioredis.Redis, prefix: str = "pairtui") -> None:
        self.client = client
        self.prefix = prefix
        self.process = secrets.token_hex(4)
        self._queue: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._renew = client.register_script(RENEW)
        self._release = client.register_script(RELEASE)
        self._reset: Callable[[], None] = lambda: None

    def channel(self, process: str) -> str:
        return f"{self.prefix}:proc:{process}"

    def _owner_key(self, room: str) -> str:
        return f"{self.prefix}:owner:{room}"

    async def start(
        self, receive: Callable[[Envelope], None], reset: Callable[[], None] = lambda: None
    ) -> None:
        """Listen on this process's channel; ``receive`` gets every envelope, in order.

        Pub/sub keeps nothing for a process that is not listening: after Redis
        failed, envelopes may have been lost both ways, so ``reset`` is called
        once the channel works again (the relay sends forwarded clients away to
        reconnect and resend).
        """
        self._reset = reset
        subscribed = asyncio.Event()
        self._tasks = [
            asyncio.create_task(self._listen(receive, subscribed), name="cluster:listen"),
            asyncio.create_task(self._publish_loop(), name="cluster:publish"),
        ]
        await asyncio.wait_for(subscribed.wait(), 10)

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, redis.exceptions.RedisError):
                await task

    # -- leases ------------------------------------------------------------------------------

    async def acquire(self, room: str) -> str:
        """Take ``room``'s lease if it is free; the owner's process id either way."""
        key = self._owner_key(room)
        if await self.client.set(key, self.process, nx=True, px=int(LEASE * 1000)):
            return self.process
        owner = await self.client.get(key)
        if owner is None:  # it expired between the two calls: try once more
            return await self.acquire(room)
        return owner.decode() if isinstance(owner, bytes) else str(owner)

    async def owners(self, rooms: list[str]) -> list[str | None]:
        """The current owner of each room (``None``: nobody holds its lease)."""
        if not rooms:
            return []
        values = await self.client.mget([self._owner_key(room) for room in rooms])
        return [v.decode() if isinstance(v, bytes) else v for v in values]

    async def renew(self, rooms: Iterable[str]) -> set[str]:
        """Extend the leases this process still holds; the rooms whose lease it still has."""
        names = list(rooms)
        if not names:
            return set()
        held = await self._renew(
            keys=[], args=[self.prefix, self.process, int(LEASE * 1000), *names]
        )
        return {name.decode() if isinstance(name, bytes) else name for name in held or []}

    async def release(self, room: str) -> None:
        with contextlib.suppress(redis.exceptions.RedisError, OSError):
            await self._release(keys=[self._owner_key(room)], args=[self.process])

    # -- messages ----------------------------------------------------------------------------

    def send(self, process: str, envelope: Envelope) -> None:
        """Queue ``envelope`` for ``process``; envelopes leave in the order they were queued."""
        self._queue.put_nowait((self.channel(process), _encoder.encode(envelope)))

    def deliver(self, peers: Iterable[RemotePeer], frame: bytes) -> None:
        """Send one frame to members on other processes: one envelope per process."""
        by_process: dict[str, list[str]] = {}
        for peer in peers:
            by_process.setdefault(peer.process, []).append(peer.member)
        text = frame.decode()
        for process, members in by_process.items():
            self.send(process, Deliver(members=members, frame=text))

    async def _publish_loop(self) -> None:
        log = get_logger()
        while True:
            batch = [await self._queue.get()]
            while not self._queue.empty() and len(batch) < 512:
                batch.append(self._queue.get_nowait())
            try:
                async with self.client.pipeline(transaction=False) as pipe:
                    for channel, payload in batch:
                        pipe.publish(channel, payload)
                    await pipe.execute()
            except (redis.exceptions.RedisError, OSError) as error:
                log.error("cluster publish failed", extra={"reason": str(error)})
                self._reset()  # these envelopes are gone: their clients must resend

    async def _listen(self, receive: Callable[[Envelope], None], subscribed: asyncio.Event) -> None:
        """Hand every envelope on; after a failure, subscribe afresh and call ``reset``."""
        log = get_logger()
        failed = False
        while True:
            pubsub = self.client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.channel(self.process))
                subscribed.set()
                if failed:
                    failed = False
                    self._reset()
                async for item in pubsub.listen():
                    self._receive_one(item["data"], receive)
            except (redis.exceptions.RedisError, OSError) as error:
                failed = True
                log.error("cluster channel lost; reconnecting", extra={"reason": str(error)})
                await asyncio.sleep(0.5)
            finally:
                with contextlib.suppress(redis.exceptions.RedisError, OSError):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]

    @staticmethod
    def _receive_one(data: bytes, receive: Callable[[Envelope], None]) -> None:
        log = get_logger()
        try:
            envelope = _decoder.decode(data)
        except msgspec.DecodeError:
            log.error("bad cluster message")
            return
        try:
            receive(envelope)
        except Exception:  # one bad envelope must not stop this process's channel
            log.exception("cluster message failed")


async def open_cluster(url: str, prefix: str = "pairtui") -> Cluster:
    client = aioredis.Redis.from_url(url, socket_connect_timeout=5)
    await client.ping()
    return Cluster(client, prefix)
