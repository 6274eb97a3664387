"""The one interface every store implements; tests/server/store_contract.py checks it."""

from __future__ import annotations

import abc
from collections.abc import Sequence

from server.store.records import KeyHashes, RoomRecord, Write


class Store(abc.ABC):
    """Durable rooms. ``commit`` returns only once its writes would survive a crash."""

    @abc.abstractmethod
    async def load_room(self, name: str, *, history: int) -> RoomRecord | None:
        """The room with each file's newest ``history`` ops, or ``None`` if it never existed."""

    @abc.abstractmethod
    async def commit(self, writes: Sequence[Write]) -> None:
        """Store all of ``writes`` or none of them; raise ``StoreError`` on failure.

        An ``OpAppended`` must follow the stored revision of its file exactly,
        else ``RevisionConflict`` (the compare-and-set that keeps two writers
        from both claiming a revision).
        """

    async def load_keys(self, name: str) -> tuple[KeyHashes | None] | None:
        """The room's key hashes in a 1-tuple (``(None,)``: an open room); ``None``: no room.

        Stores that can read the keys alone override this; it is on the join path.
        """
        record = await self.load_room(name, history=0)
        return None if record is None else (record.keys,)

    @abc.abstractmethod
    async def room_names(self) -> list[str]:
        """Every stored room, for backups and health reports."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Finish pending work and release resources."""
