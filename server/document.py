"""One file as the relay keeps it: text, revision, recent history, and who sent what.

Rule: everything that decides whether and how an incoming op changes a file
lives in this file. It does no I/O: ``receive`` returns what happened and the
caller stores it before acknowledging anything.

An incoming op names the revision it was made against. It is transformed past
every op applied since then (incoming op first, so ties break as on the
client), checked against the text, and applied. A resent op whose
``(client_id, seq)`` was already applied is acknowledged again, never applied
twice: ot.js's server lacked this check (ot.js#37).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeAlias

from pairtui.core.ot import OTError, TextOperation
from pairtui.core.protocol import ErrorCode

DEFAULT_MAX_LENGTH = 4_000_000
"""Largest document, in code points, the relay accepts by default (about 100,000 lines)."""


@dataclass(frozen=True)
class HistoryEntry:
    """An applied op: it turned ``revision - 1`` into ``revision``."""

    revision: int
    op: TextOperation
    client_id: str
    seq: int
    member: str | None = None


# How the relay keeps its history: a plain tuple of ints and strings. CPython's
# garbage collector stops tracking such tuples, so a relay holding hundreds of
# thousands of ops does not pause for a full collection over them (it did: the
# tail of keystroke latency under load was those pauses).
_Kept: TypeAlias = tuple[int, tuple[int | str, ...], str, int, str | None]


def _keep(entry: HistoryEntry) -> _Kept:
    return (entry.revision, tuple(entry.op.ops), entry.client_id, entry.seq, entry.member)


def _entry(kept: _Kept) -> HistoryEntry:
    revision, ops, client_id, seq, member = kept
    return HistoryEntry(revision, TextOperation.from_canonical(ops), client_id, seq, member)


@dataclass(frozen=True)
class Applied:
    """The op was transformed and applied; store ``entry``, then ack and broadcast it."""

    entry: HistoryEntry


@dataclass(frozen=True)
class Duplicate:
    """This ``(client_id, seq)`` was applied before: acknowledge it again, change nothing."""

    seq: int
    revision: int


@dataclass(frozen=True)
class Rejected:
    """The op cannot be applied; the document is unchanged."""

    code: ErrorCode
    message: str


Outcome: TypeAlias = Applied | Duplicate | Rejected


class ServerDocument:
    """A file's authoritative text, ordered history and duplicate check."""

    def __init__(
        self,
        text: str = "",
        revision: int = 0,
        *,
        history: Iterable[HistoryEntry] = (),
        applied_seqs: dict[str, tuple[int, int]] | None = None,
        max_length: int = DEFAULT_MAX_LENGTH,
    ) -> None:
        """Load a file: ``history`` is the contiguous run of entries ending at ``revision``.

        ``applied_seqs`` maps a client id to its last applied ``(seq, revision)``;
        entries in ``history`` are added to it.
        """
        self.text = text
        self.revision = revision
        self.max_length = max_length
        self._history: list[_Kept] = [_keep(entry) for entry in history]
        self.applied_seqs: dict[str, tuple[int, int]] = dict(applied_seqs or {})
        for kept in self._history:
            self.applied_seqs[kept[2]] = (kept[3], kept[0])
        if self._history and self._history[-1][0] != revision:
            raise ValueError("history must end at the document's revision")

    @property
    def history(self) -> list[HistoryEntry]:
        """The kept history, oldest first (built on each call: for loading and tests)."""
        return [_entry(kept) for kept in self._history]

    @property
    def history_length(self) -> int:
        return len(self._history)

    @property
    def history_start(self) -> int:
        """The oldest revision an incoming op may still be based on."""
        return self.revision - len(self._history)

    def receive(
        self, revision: int, op: TextOperation, client_id: str, seq: int, member: str | None = None
    ) -> Outcome:
        """Transform and apply one incoming op, or say why not."""
        last = self.applied_seqs.get(client_id)
        if last is not None and seq <= last[0]:
            return Duplicate(seq, last[1])
        if revision > self.revision:
            return Rejected(
                ErrorCode.FUTURE_REVISION,
                f"revision {revision} is ahead of the file's revision {self.revision}",
            )
        if revision < self.history_start:
            return Rejected(
                ErrorCode.HISTORY_UNAVAILABLE,
                f"revision {revision} is older than the kept history "
                f"(from {self.history_start}); open the file again to rebase",
            )
        try:
            for kept in self._history[revision - self.history_start :]:
                op, _ = TextOperation.transform(op, TextOperation.from_canonical(kept[1]))
            text = op.apply(self.text)
        except OTError as error:
            return Rejected(
                ErrorCode.OP_MISMATCH, f"the op does not fit revision {revision}: {error}"
            )
        if len(text) > self.max_length and len(text) > len(self.text):
            return Rejected(
                ErrorCode.DOCUMENT_TOO_LARGE,
                f"the file would grow to {len(text)} characters; the limit is {self.max_length}",
            )
        entry = HistoryEntry(self.revision + 1, op, client_id, seq, member)
        self.text = text
        self.revision = entry.revision
        self._history.append(_keep(entry))
        self.applied_seqs[client_id] = (seq, entry.revision)
        return Applied(entry)

    def ops_since(self, revision: int) -> list[HistoryEntry] | None:
        """The entries after ``revision``, or ``None`` when history no longer reaches back."""
        if revision < self.history_start or revision > self.revision:
            return None
        return [_entry(kept) for kept in self._history[revision - self.history_start :]]

    def trim_history(self, keep: int) -> None:
        """Forget all but the newest ``keep`` entries (the duplicate check is kept)."""
        if len(self._history) > keep:
            del self._history[: len(self._history) - keep]
