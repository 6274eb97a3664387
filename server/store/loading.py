"""Turning what a store holds for a file into the ``FileRecord`` a room starts from.

Every store keeps the same shape: a snapshot, the ops after (and some before)
it, and each client's last seq. Rebuilding the text and choosing the history
to keep is the same work for all of them, so it lives here once.
"""

from __future__ import annotations

from dataclasses import dataclass

from server.document import HistoryEntry
from server.store.records import FileRecord, StoreError


def oldest_needed(snapshot_revision: int, revision: int, history: int) -> int:
    """Ops above this revision are needed: to rebuild the text and to keep ``history``."""
    return max(0, min(snapshot_revision, revision - history))


@dataclass(frozen=True)
class StoredFile:
    """One file as a store holds it; ``entries`` are ops above ``oldest_needed``, in order."""

    file: str
    path: str
    revision: int
    snapshot_revision: int
    snapshot_text: str
    entries: list[HistoryEntry]
    applied: dict[str, tuple[int, int]]

    def record(self, room: str, history: int) -> FileRecord:
        """The file's text at ``revision`` and its newest ``history`` ops (if contiguous)."""
        text = self.snapshot_text
        for entry in self.entries:
            if entry.revision > self.snapshot_revision:
                text = entry.op.apply(text)
        last = self.entries[-1].revision if self.entries else self.snapshot_revision
        if last != self.revision:
            raise StoreError(
                f"{room}/{self.file}: stored ops do not reach revision {self.revision}"
            )
        kept = [e for e in self.entries if e.revision > self.revision - history]
        if kept and kept[0].revision != self.revision - len(kept) + 1:
            kept = []
        return FileRecord(self.file, self.path, text, self.revision, kept, dict(self.applied))
