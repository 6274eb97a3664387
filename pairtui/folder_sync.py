"""``pair join --dir PATH``: mirror a room's files into a folder, and the folder back.

Each person can then also use their own editor or run the code. One rule
does all the merging: for every mirrored file we remember the *base*, the
text the disk held when we last wrote or read it. When the disk or the room
changes, the disk's change since the base and the room's change since the
base are both diffs of the same text, so OT transforms the disk's change past
the room's and sends it as an edit; then the merged text is written back.
Edits made on both sides at once therefore merge, and neither clobbers the
other.

All the work runs in one task, one job at a time, so a file is never read
and written by two jobs at once. Bases are saved in the user data directory,
so a folder edited while ``pair join`` was not running merges the next time.

Deletions are not mirrored from the folder to the room (a stray ``rm`` must
not delete a partner's work; delete a file from the files panel). A file
deleted in the room is removed from the folder only if it holds no changes
of yours.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import watchfiles

from pairtui.client import ClientSession, FileChanged, FilesListed, SessionEvent
from pairtui.core import protocol as p
from pairtui.core.diff import diff_operation
from pairtui.core.ot import TextOperation
from pairtui.folder_rules import (
    CONFLICT_SUFFIX,
    IgnoreRules,
    RefusedFile,
    disk_path,
    read_text,
    room_path,
    write_text,
)

SOURCE = "folder"
WRITE_DELAY = 0.1  # a partner's burst of keystrokes becomes one write
SAVE_DELAY = 1.0


class FolderSync:
    """Keeps ``root`` and the session's room the same, both ways."""

    def __init__(
        self,
        session: ClientSession,
        root: Path,
        *,
        state_dir: Path,
        notify: Callable[[str], None] = lambda text: None,
        debounce_ms: int = 50,
    ) -> None:
        self.session = session
        self.root = root.absolute()
        self.notify = notify
        self.debounce_ms = debounce_ms
        key = hashlib.sha256(f"{session.url}\0{session.room}\0{self.root}".encode()).hexdigest()
        self._state_file = state_dir / "folders" / f"{key[:24]}.json"
        self._bases: dict[str, str] = {}  # file id -> text the disk held at our last look
        self._paths: dict[str, str] = {}  # file id -> room path it is mirrored at
        self._saved: dict[str, str] = self._load_state()  # room path -> base, across runs
        self._created: dict[str, str] = {}  # room path -> text we just uploaded
        self._refused: set[str] = set()
        self._jobs: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        self._dirty: set[str] = set()
        self._write_timer: asyncio.TimerHandle | None = None
        self._save_timer: asyncio.TimerHandle | None = None
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._scanned = False
        self.rules = IgnoreRules(self.root)

    async def start(self) -> None:
        """Start watching; call before or after the session has joined."""
        self.root.mkdir(parents=True, exist_ok=True)
        self.session.subscribe(self._on_event)
        self._tasks = [
            asyncio.create_task(self._work(), name="folder-sync"),
            asyncio.create_task(self._watch(), name="folder-watch"),
        ]
        if self.session.status == "connected":
            self._jobs.put_nowait(("files", ""))

    async def close(self) -> None:
        """Stop watching and save the bases (the next run merges from them)."""
        self.session.unsubscribe(self._on_event)
        self._stop.set()
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for timer in (self._write_timer, self._save_timer):
            if timer is not None:
                timer.cancel()
        self._save_state()

    async def idle(self, timeout: float = 10.0) -> None:
        """Wait until no job is queued or running (tests, and a clean exit)."""
        async with asyncio.timeout(timeout):
            while self._dirty or self._write_timer is not None:
                await asyncio.sleep(0.01)
            await self._jobs.join()

    # -- events in -----------------------------------------------------------------------

    def _on_event(self, event: SessionEvent) -> None:
        if isinstance(event, FilesListed):
            self._jobs.put_nowait(("files", ""))
        elif (
            isinstance(event, FileChanged) and event.source != SOURCE and event.file in self._bases
        ):
            self._dirty.add(event.file)
            if self._write_timer is None:
                loop = asyncio.get_running_loop()
                self._write_timer = loop.call_later(WRITE_DELAY, self._queue_dirty)

    def _queue_dirty(self) -> None:
        self._write_timer = None
        for file in sorted(self._dirty):
            self._jobs.put_nowait(("file", file))
        self._dirty.clear()

    async def _watch(self) -> None:
        async for changes in watchfiles.awatch(
            self.root,
            watch_filter=self._watched,
            debounce=self.debounce_ms,
            step=10,
            stop_event=self._stop,
        ):
            for change, path in sorted(changes, key=lambda c: c[1]):
                if change != watchfiles.Change.deleted:
                    self._jobs.put_nowait(("path", path))

    def _watched(self, change: watchfiles.Change, path: str) -> bool:
        try:
            relative = room_path(self.root, Path(path))
        except ValueError:
            return False
        return relative in self._paths.values() or not self.rules.ignored(relative)

    # -- the one worker --------------------------------------------------------------------

    async def _work(self) -> None:
        while True:
            kind, value = await self._jobs.get()
            try:
                if kind == "files":
                    await self._room_files()
                elif kind == "file":
                    self._sync(value)
                else:
                    self._local_path(Path(value))
            except RefusedFile as refusal:
                self._refuse(str(refusal))
            except OSError as error:
                self.notify(f"folder sync: {error}; check the folder's permissions and space")
            except Exception as error:  # keep mirroring the other files whatever one does
                self.notify(f"folder sync could not handle {value or 'the file list'}: {error}")
            finally:
                self._jobs.task_done()

    async def _room_files(self) -> None:
        """Mirror new, renamed and deleted room files; on the first run, upload new local ones."""
        if self.session.status != "connected":
            return
        files = list(self.session.files)
        current = {info.file for info in files}
        for file in [f for f in self._bases if f not in current]:
            self._room_deleted(file)
        for info in files:
            if info.file not in self._bases:
                await self._adopt(info)
            elif self._paths[info.file] != info.path:
                self._room_renamed(info)
        if not self._scanned:
            self._scanned = True
            self._upload_new_local_files({info.path for info in files})

    async def _adopt(self, info: p.FileInfo) -> None:
        """Start mirroring a room file; merge with what the folder already holds."""
        try:
            path = disk_path(self.root, info.path)
        except RefusedFile as refusal:
            self._refuse(str(refusal))
            return
        sync = await self.session.open(info.file)
        if info.file in self._bases:
            return  # adopted while we waited for its text
        try:
            local = read_text(path)
        except RefusedFile as refusal:
            self._refuse(str(refusal))
            return
        base = self._created.pop(info.path, None) or self._saved.get(info.path)
        if local is not None and local != sync.text and base is None:
            backup = path.with_name(path.name + CONFLICT_SUFFIX)
            write_text(backup, local)
            self.notify(
                f"{info.path} differed from the room's copy: the room's is in place, "
                f"yours is kept as {backup.name}"
            )
            base = local
        self._paths[info.file] = info.path
        self._bases[info.file] = sync.text if local is None or base is None else base
        self._sync(info.file)

    def _upload_new_local_files(self, room_paths: set[str]) -> None:
        for path in sorted(self.root.rglob("*")):
            relative = room_path(self.root, path)
            if relative in room_paths or not path.is_file() or self.rules.ignored(relative):
                continue
            try:
                self._upload(path)
            except RefusedFile as refusal:
                self._refuse(str(refusal))

    def _local_path(self, path: Path) -> None:
        """The watcher saw ``path`` change: sync it, or upload it if it is new.

        A new folder is read whole: files written into it before the watcher
        watched it would otherwise never be seen.
        """
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                if child.is_file() and not self.rules.ignored(room_path(self.root, child)):
                    self._local_path(child)
            return
        relative = room_path(self.root, path)
        file = next((f for f, known in self._paths.items() if known == relative), None)
        if file is not None:
            self._sync(file)
        elif path.is_file() and relative not in self._created:
            self._upload(path)

    def _upload(self, path: Path) -> None:
        relative = room_path(self.root, path)
        disk_path(self.root, relative)  # the relay would refuse it too: say why here
        text = read_text(path)
        if text is None:
            return
        self._created[relative] = text
        self.session.create_file(relative, text)

    # -- the merge ----------------------------------------------------------------------------

    def _sync(self, file: str) -> None:
        """Bring the disk and the room together for one file (see the module's docstring)."""
        sync = self.session.syncs.get(file)
        if sync is None or file not in self._paths:
            return
        path = disk_path(self.root, self._paths[file])
        base = self._bases[file]
        local = read_text(path)
        if local is not None and local != base:
            from_disk = diff_operation(base, local)
            from_room = diff_operation(base, sync.text)
            merged, _ = TextOperation.transform(from_disk, from_room)
            if not merged.is_noop():
                self.session.edit(file, merged, source=SOURCE)
        text = sync.text
        if local != text:
            write_text(path, text)
        self._bases[file] = text
        self._saved[self._paths[file]] = text
        self._save_later()

    def _room_renamed(self, info: p.FileInfo) -> None:
        old_path = disk_path(self.root, self._paths[info.file])
        new_path = disk_path(self.root, info.path)
        self._saved.pop(self._paths[info.file], None)
        local = read_text(old_path)
        if local is not None and local == self._bases[info.file] and not new_path.exists():
            new_path.parent.mkdir(parents=True, exist_ok=True)
            old_path.replace(new_path)
        elif local is not None:
            self.notify(f"{info.path} was renamed in the room; {old_path.name} is left as it was")
        self._paths[info.file] = info.path
        self._sync(info.file)

    def _room_deleted(self, file: str) -> None:
        relative = self._paths.pop(file)
        base = self._bases.pop(file)
        self._saved.pop(relative, None)
        self._save_later()
        path = disk_path(self.root, relative)
        local = read_text(path)
        if local == base:
            path.unlink()
            self.notify(f"{relative} was deleted in the room, so here too")
        elif local is not None:
            self.notify(f"{relative} was deleted in the room; your copy is kept, with your changes")

    def _refuse(self, message: str) -> None:
        if message not in self._refused:  # say it once, not on every save
            self._refused.add(message)
            self.notify(f"folder sync {message}")

    # -- bases across runs ----------------------------------------------------------------------

    def _load_state(self) -> dict[str, str]:
        try:
            state = json.loads(self._state_file.read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            return {}
        return {k: v for k, v in state.items() if isinstance(k, str) and isinstance(v, str)}

    def _save_later(self) -> None:
        if self._save_timer is None:
            loop = asyncio.get_running_loop()
            self._save_timer = loop.call_later(SAVE_DELAY, self._save_state)

    def _save_state(self) -> None:
        self._save_timer = None
        self._state_file.parent.mkdir(parents=True, exist_ok=True)
        temporary = self._state_file.with_suffix(".tmp")
        temporary.write_text(json.dumps(self._saved), encoding="utf-8")
        temporary.replace(self._state_file)
