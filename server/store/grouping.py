"""Group commit: while one batch is being written, later commits wait and go in the next.

A busy relay has hundreds of rooms each committing a few ops; one store
write per room per batch would cost a transaction (SQLite) or a round trip
and a connection (Redis) each. Instead, commits that arrive while a write is
in progress are joined into the next write. A failed joint write is retried
commit by commit, so one room's conflict never fails another room's edits.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

from server.store.records import StoreError, Write


class GroupCommit:
    """Calls ``write_now`` with the writes of every commit that queued up meanwhile."""

    def __init__(self, write_now: Callable[[Sequence[Write]], Awaitable[None]]) -> None:
        self._write_now = write_now
        self._pending: list[tuple[Sequence[Write], asyncio.Future[None]]] = []
        self._flusher: asyncio.Task[None] | None = None
        self.writes = 0  # how many joint writes were made (tests and benchmarks read it)

    async def commit(self, writes: Sequence[Write]) -> None:
        if not writes:
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((writes, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        await future

    async def drain(self) -> None:
        """Wait for what is queued to be written (before closing the store)."""
        if self._flusher is not None:
            await asyncio.shield(self._flusher)

    async def _flush(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            try:
                await self._write_now([w for writes, _ in batch for w in writes])
                self.writes += 1
            except StoreError:
                for writes, future in batch:  # find out whose writes failed
                    try:
                        await self._write_now(writes)
                    except StoreError as error:
                        future.set_exception(error)
                    else:
                        future.set_result(None)
            else:
                for _, future in batch:
                    future.set_result(None)
