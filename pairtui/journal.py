"""The local journal: edits the relay has not stored yet survive a crash or exit.

One folder per relay and room in the user data directory holds the client id
(the relay recognises resent edits by it) and, for each file with pending
edits, two small JSON files written atomically (write, then rename):

* ``<file>.base.json``: the revision and text the pending edits apply to;
  rewritten only when that base moves (an ack or a partner's edit arrived);
* ``<file>.pending.json``: the next seq, the op in flight with its seq, and
  the buffer; rewritten on every local edit made while edits are pending.

Typing offline therefore costs a small write per keystroke, never the whole
file. When a file has nothing pending its journal files are removed. The next
``pair join`` of the room loads them, reconnects with the same client id,
catches up and resends: the relay acknowledges what it already had and
applies the rest once.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from pathlib import Path

import msgspec

from pairtui.core.ot import TextOperation
from pairtui.core.sync import FileSync


class _Base(msgspec.Struct):
    revision: int
    text: str


class _Pending(msgspec.Struct):
    revision: int
    next_seq: int
    outstanding_seq: int
    outstanding: list[int | str]
    buffer: list[int | str] | None


@dataclass(frozen=True)
class JournaledFile:
    """A file's pending edits as read back from the journal."""

    file: str
    sync: FileSync


class Journal:
    """The journal of one room on one relay."""

    def __init__(self, root: Path, server: str, room: str) -> None:
        digest = hashlib.sha256(f"{server}\0{room}".encode()).hexdigest()[:16]
        self.folder = root / "journal" / f"{room}-{digest}"
        self._written_base: dict[str, int] = {}

    def client_id(self) -> str:
        """This machine's client id for the room, created once and kept."""
        path = self.folder / "client_id"
        try:
            existing = path.read_text().strip()
        except FileNotFoundError:
            existing = ""
        if existing:
            return existing
        client_id = secrets.token_urlsafe(16)
        _write_atomically(path, client_id.encode())
        return client_id

    def record(self, sync: FileSync) -> None:
        """Bring the journal of ``sync``'s file up to date with its pending edits."""
        outstanding = sync.outstanding
        if outstanding is None:
            self.forget(sync.file)
            return
        if self._written_base.get(sync.file) != sync.revision:
            base = _Base(sync.revision, sync.server_text)
            _write_atomically(self._path(sync.file, "base"), msgspec.json.encode(base))
            self._written_base[sync.file] = sync.revision
        buffer = sync.buffer
        pending = _Pending(
            revision=sync.revision,
            next_seq=sync.next_seq,
            outstanding_seq=outstanding.seq,
            outstanding=outstanding.op.to_json(),
            buffer=None if buffer is None else buffer.to_json(),
        )
        _write_atomically(self._path(sync.file, "pending"), msgspec.json.encode(pending))

    def forget(self, file: str) -> None:
        """The file has nothing pending any more."""
        if self._written_base.pop(file, None) is None and not self._path(file, "pending").exists():
            return
        for kind in ("pending", "base"):
            self._path(file, kind).unlink(missing_ok=True)

    def load(self) -> list[JournaledFile]:
        """Every file with pending edits, ready to reconnect and resend."""
        if not self.folder.exists():
            return []
        loaded = []
        for pending_path in sorted(self.folder.glob("*.pending.json")):
            file = pending_path.name.removesuffix(".pending.json")
            try:
                pending = msgspec.json.decode(pending_path.read_bytes(), type=_Pending)
                base = msgspec.json.decode(self._path(file, "base").read_bytes(), type=_Base)
            except (OSError, msgspec.DecodeError):
                continue  # unreadable: leave it for a person to look at, do not guess
            if base.revision != pending.revision:
                continue
            outstanding = TextOperation.from_json(pending.outstanding)
            buffer = None if pending.buffer is None else TextOperation.from_json(pending.buffer)
            text = outstanding.apply(base.text)
            if buffer is not None:
                text = buffer.apply(text)
            sync = FileSync(
                file,
                text=text,
                revision=base.revision,
                server_text=base.text,
                next_seq=pending.outstanding_seq,
                connected=False,
                pending=(outstanding, buffer),
            )
            sync.next_seq = pending.next_seq
            self._written_base[file] = base.revision
            loaded.append(JournaledFile(file, sync))
        return loaded

    def _path(self, file: str, kind: str) -> Path:
        return self.folder / f"{file}.{kind}.json"


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    with temporary.open("wb") as handle:
        handle.write(data)
    temporary.replace(path)  # no fsync: it guards against a client crash, not a power cut
