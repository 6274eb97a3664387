"""The pairtui terminal app: thin over the client session.

Session events are handled the moment they happen (attributes and calls go
down to the widgets), so a partner's edit reaches the editor before any key
you press next is turned into an op: the editor's text and the sync engine's
never disagree. Widgets report up with messages.
"""

from __future__ import annotations

import gc
import time
from typing import ClassVar

from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Container
from textual.widgets import Footer, Input, Static

from pairtui.client import (
    ChatReceived,
    ClientSession,
    ErrorReceived,
    FileChanged,
    FilesListed,
    MembersChanged,
    SessionEvent,
    StatusChanged,
    SummonReceived,
)
from pairtui.core import protocol as p
from pairtui.ui.commands import PairCommands
from pairtui.ui.editor import PairEditor, RemoteCursor
from pairtui.ui.status import StatusBar

PRESENCE_INTERVAL = 0.05
GC_THRESHOLDS = (20_000, 20, 20)  # fewer, cheaper collections: a keystroke must fit a frame
LABEL_SECONDS = 3.0  # a partner's name shows this long after their cursor moves


class PairApp(App[int]):
    """One person in one room."""

    CSS_PATH = "pair.tcss"
    TITLE = "pairtui"
    COMMANDS = App.COMMANDS | {PairCommands}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+q", "quit", "Quit", priority=True),
        Binding("ctrl+z", "undo", "Undo"),
        Binding("ctrl+y", "redo", "Redo"),
        Binding("ctrl+n", "new_file", "New file"),
        Binding("f1", "invite", "Invite"),
    ]

    def __init__(
        self, session: ClientSession, *, initial_path: str | None = None, join_hint: str = ""
    ) -> None:
        super().__init__()
        self.session = session
        self.initial_path = initial_path
        self.join_hint = join_hint
        self.current_file: str | None = None
        self._opening = False
        self._create_requested = False
        self._presence_due: float = 0.0
        self._presence: p.SetPresence | None = None
        self._label_until: dict[str, float] = {}
        # Built here, not queried: session events reach them on a hot path, and may
        # still arrive while the app is shutting down.
        self.editor = PairEditor(id="editor")
        self.status_bar = StatusBar(id="status")
        self._last_cursor: dict[str, int] = {}

    def compose(self) -> ComposeResult:
        with Container(id="editor-area"):
            yield self.editor
        yield self.status_bar
        yield Footer()

    async def on_ready(self) -> None:
        """The screen is composed: now session events have widgets to go to."""
        gc.set_threshold(*GC_THRESHOLDS)
        self.status_bar.room = self.session.room
        self.session.subscribe(self._on_session_event)
        await self.session.start(wait=False)
        self.set_interval(5.0, self.session.ping)
        self.set_interval(0.5, self._refresh_status)
        self.editor.focus()
        if self.join_hint:
            self.notify(self.join_hint, title="Pairing", timeout=8)

    async def on_unmount(self) -> None:
        self.session.unsubscribe(self._on_session_event)
        await self.session.close()

    # -- session events (handled at once, in order) ---------------------------------

    def _on_session_event(self, event: SessionEvent) -> None:
        if isinstance(event, FileChanged):
            if event.file == self.current_file:
                self.editor.apply_remote(event.op)
                self._show_partners()
        elif isinstance(event, MembersChanged):
            self._show_partners()
        elif isinstance(event, FilesListed):
            self._files_listed()
        elif isinstance(event, StatusChanged):
            self.status_bar.status = event.status
            self.status_bar.retry_at = event.retry_at
            self.status_bar.reason = event.reason
            if event.status == "closed" and event.reason:
                self.notify(event.reason, title="Disconnected", severity="error", timeout=30)
        elif isinstance(event, ErrorReceived):
            self.notify(f"{event.message} ({event.code})", severity="error")
        elif isinstance(event, ChatReceived):
            message = event.message
            if message.member != self.session.member:
                self.notify(message.text[:200], title=message.name)
        elif isinstance(event, SummonReceived):
            who = self.session.members.get(event.member)
            self.notify(
                f"{who.name if who else 'Someone'} asks you to join them.", title="Summoned"
            )

    def _files_listed(self) -> None:
        files = self.session.files
        if self.initial_path is not None:  # --file PATH, or a file just created here
            match = next((f for f in files if f.path == self.initial_path), None)
            if match is not None:
                self.initial_path = None
                self._create_requested = False
                self.run_worker(self.open_file(match.file), exclusive=True)
                return
            if not self._create_requested:
                self._create_requested = True
                self.session.create_file(self.initial_path)
        if self.current_file is not None and any(f.file == self.current_file for f in files):
            self.status_bar.path = self._path_of(self.current_file)
        elif files and not self._opening:
            self.run_worker(self.open_file(files[0].file), exclusive=True)

    async def open_file(self, file: str) -> None:
        """Switch the editor to ``file`` (same connection, no reconnect)."""
        self._opening = True
        try:
            sync = await self.session.open(file)
        finally:
            self._opening = False
        self.current_file = file
        path = self._path_of(file)
        self.editor.load(path, sync.text)
        self.editor.on_local_op = lambda op, file=file: self.session.edit(file, op)
        self.status_bar.path = path
        self._show_partners()
        height = self.editor.size.height
        self._presence = p.SetPresence(file=file, cursor=0, anchor=0, viewport=(0, height))
        self._queue_presence()

    # -- widgets report up -----------------------------------------------------------

    def on_pair_editor_cursor_moved(self, message: PairEditor.CursorMoved) -> None:
        self._presence = p.SetPresence(
            file=self.current_file,
            cursor=message.cursor,
            anchor=message.anchor,
            viewport=message.viewport,
        )
        self._queue_presence()

    def _queue_presence(self) -> None:
        now = time.monotonic()
        if now >= self._presence_due:
            self._send_presence()
        else:
            self.set_timer(self._presence_due - now, self._send_presence)

    def _send_presence(self) -> None:
        self._presence_due = time.monotonic() + PRESENCE_INTERVAL
        presence = self._presence or p.SetPresence(file=self.current_file, cursor=0)
        if presence.file == self.current_file and self.current_file is not None:
            self.session.set_presence(presence)

    # -- partners ---------------------------------------------------------------------

    def _show_partners(self) -> None:
        me = self.session.member
        cursors = [
            RemoteCursor(
                m.member, m.name, m.color, m.cursor, m.anchor if m.anchor is not None else m.cursor
            )
            for m in self.session.members.values()
            if m.member != me and m.file == self.current_file and m.cursor is not None
        ]
        now = time.monotonic()
        for cursor in cursors:
            if self._last_cursor.get(cursor.member) != cursor.cursor:
                self._last_cursor[cursor.member] = cursor.cursor
                self._label_until[cursor.member] = now + LABEL_SECONDS
        self.editor.set_remote_cursors(cursors)
        self.status_bar.people = len(self.session.members)
        self.call_after_refresh(self._place_labels)

    def _place_labels(self) -> None:
        area = self.query_one("#editor-area")
        existing = {label.id or "": label for label in area.query(".name-label").results(Static)}
        wanted: set[str] = set()
        now = time.monotonic()
        for cursor in self.editor.remote_cursors:
            spot = self.editor.screen_offset_of(cursor.cursor)
            if spot is None or self._label_until.get(cursor.member, 0.0) < now:
                continue
            label_id = f"label-{cursor.member}"
            wanted.add(label_id)
            label = existing.get(label_id)
            if label is None:
                label = Static(cursor.name, classes="name-label", id=label_id)
                area.mount(label)
            label.update(cursor.name)
            label.styles.background = cursor.color
            x, y = spot
            label.styles.offset = (x, y - 1 if y > 0 else y + 1)
        for label_id, label in existing.items():
            if label_id not in wanted:
                label.remove()

    def on_text_area_changed(self) -> None:
        self.call_after_refresh(self._place_labels)

    def _refresh_status(self) -> None:
        self.status_bar.pending = self.session.pending
        self.status_bar.rtt = self.session.rtt
        self._place_labels()

    # -- actions ------------------------------------------------------------------------

    def action_undo(self) -> None:
        self.editor.action_undo()

    def action_redo(self) -> None:
        self.editor.action_redo()

    def action_invite(self) -> None:
        self.notify(self.join_hint or f"pair join {self.session.room}", title="Invite", timeout=15)

    def action_new_file(self) -> None:
        field = Input(
            placeholder="path of the new file, e.g. ex/02.py (Enter to create)", id="new-file"
        )
        self.mount(field, before=self.status_bar)
        field.focus()

    def on_input_submitted(self, message: Input.Submitted) -> None:
        if message.input.id == "new-file":
            path = message.value.strip()
            message.input.remove()
            if path:
                self.initial_path = path
                self._create_requested = True
                self.session.create_file(path)
            self.editor.focus()

    def _path_of(self, file: str) -> str:
        return next((f.path for f in self.session.files if f.file == file), file)
