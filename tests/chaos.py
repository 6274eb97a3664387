"""A seeded chaos TCP proxy for tests: latency, jitter, stalls, cuts and partitions.

It listens on 127.0.0.1 and forwards to one port on 127.0.0.1 only. Put one
in front of each client whose network should misbehave:

* ``latency`` and ``jitter``: every chunk is held that long (plus a random
  share of ``jitter``), in order, both ways;
* ``stall(seconds)``: nothing moves for a while, then everything does;
* ``cut()``: every connection through it is reset at once (a dropped link);
* ``partition()`` / ``heal()``: while partitioned, nothing is forwarded and new
  connections are accepted but go nowhere, like a host whose network is gone
  (the client finds out from its own timeouts); ``heal`` lets data flow again.

Randomness comes from one ``random.Random(seed)``, so a failing run repeats.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time


class ChaosProxy:
    def __init__(self, target_port: int, *, seed: int, latency: float = 0.0, jitter: float = 0.0):
        self.target_port = target_port
        self.rng = random.Random(seed)
        self.latency = latency
        self.jitter = jitter
        self.port = 0
        self._server: asyncio.Server | None = None
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._links: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter | None]] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self.connections = 0

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self.port

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/"

    async def close(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # -- the faults ----------------------------------------------------------------------

    def cut(self) -> None:
        """Reset every connection now."""
        for client, upstream in list(self._links):
            for writer in (client, upstream):
                if writer is not None:
                    writer.transport.abort()
        self._links.clear()

    def partition(self) -> None:
        self._flowing.clear()

    def heal(self) -> None:
        self._flowing.set()

    async def stall(self, seconds: float) -> None:
        self.partition()
        await asyncio.sleep(seconds)
        self.heal()

    # -- forwarding ------------------------------------------------------------------------

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        link: tuple[asyncio.StreamWriter, asyncio.StreamWriter | None] = (writer, None)
        self._links.add(link)
        await self._flowing.wait()  # partitioned: the connection hangs, as it would
        if link not in self._links:
            return
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.transport.abort()
            self._links.discard(link)
            return
        self._links.discard(link)
        link = (writer, up_writer)
        self._links.add(link)
        for source, sink in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.create_task(self._pump(source, sink, link))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pump(
        self,
        source: asyncio.StreamReader,
        sink: asyncio.StreamWriter,
        link: tuple[asyncio.StreamWriter, asyncio.StreamWriter | None],
    ) -> None:
        due = 0.0  # chunks leave in order: never before the one ahead of them
        try:
            while chunk := await source.read(65536):
                delay = self.latency + self.jitter * self.rng.random()
                due = max(due, time.monotonic() + delay)
                await asyncio.sleep(max(0.0, due - time.monotonic()))
                await self._flowing.wait()
                if link not in self._links:
                    return
                sink.write(chunk)
                await sink.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            with contextlib.suppress(Exception):
                sink.close()
            self._links.discard(link)
