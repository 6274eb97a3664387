"""The pairtui terminal app: thin over the client session.

Session events are handled the moment they happen (attributes and calls go
down to the widgets), so a partner's edit reaches the editor before any key
you press next is turned into an op: the editor's text and the sync engine's
never disagree. Widgets report up with messages. Around the editor: the files
and people panels (F2), chat (F3), follow mode (F5, F8, F9), whose rules
live in ``follow.py``, and voice (F6, F7: ``voice_actions.py``).
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar

import msgspec
from textual import events, work
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Container, Horizontal, Vertical
from textual.notifications import SeverityLevel
from textual.timer import Timer
from textual.widgets import Footer, Input, Static

from pairtui.access import Target
from pairtui.client import (
    ChatReceived,
    ClientSession,
    ErrorReceived,
    FileChanged,
    FilesListed,
    KeysReceived,
    MembersChanged,
    SessionEvent,
    StatusChanged,
    SummonReceived,
)
from pairtui.config import VoiceSettings
from pairtui.core import protocol as p
from pairtui.core.ot import TextOperation
from pairtui.folder_sync import FolderSync
from pairtui.ui.access_actions import AccessActions
from pairtui.ui.chat_actions import ChatActions
from pairtui.ui.chat_panel import ChatPanel
from pairtui.ui.commands import PairCommands
from pairtui.ui.confirm import Confirm
from pairtui.ui.editor import PairEditor, RemoteCursor
from pairtui.ui.files_panel import FilesPanel
from pairtui.ui.follow import Follow
from pairtui.ui.follow_actions import FollowActions
from pairtui.ui.people import describe_people
from pairtui.ui.people_panel import PeoplePanel
from pairtui.ui.status import StatusBar
from pairtui.ui.voice_actions import VoiceActions

if TYPE_CHECKING:
    from pairtui.voice.devices import AudioDevices

PRESENCE_INTERVAL = 0.05
PING_INTERVAL = 5.0  # round trips: the status bar, and others' view of my connection
PANEL_INTERVAL = 0.1  # panels redraw at most this often however busy the room is
GC_THRESHOLDS = (20_000, 20, 20)  # fewer, cheaper collections: a keystroke must fit a frame
LABEL_SECONDS = 3.0  # a partner's name shows this long after their cursor moves
ERROR_QUIET = 2.0  # seconds before the same error code is shown again
EDITOR = "editor"  # the source of edits typed here, as other local views hear of them
SIDEBAR_MIN_WIDTH = 110  # the sidebar starts shown on terminals at least this wide


class PairApp(FollowActions, AccessActions, ChatActions, VoiceActions):
    """One person in one room."""

    CSS_PATH = "pair.tcss"
    TITLE = "pairtui"
    COMMANDS = App.COMMANDS | {PairCommands}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+q", "quit", "Quit", priority=True),
        Binding("ctrl+z", "undo", "Undo"),
        Binding("ctrl+y", "redo", "Redo"),
        Binding("ctrl+n", "new_file", "New file"),
        Binding("f1", "invite", "Invite", priority=True),
        Binding("f2", "toggle_sidebar", "Files/People", priority=True),
        Binding("f3", "toggle_chat", "Chat", priority=True),
        Binding("f4", "send_selection", "Selection→chat", priority=True),
        Binding("f5", "follow", "Follow", priority=True),
        Binding("f6", "toggle_voice", "Voice", priority=True),
        Binding("f7", "voice_mute", "Mute/talk", priority=True),
        Binding("f8", "go_there", "Go there", priority=True),
        Binding("f9", "summon", "Summon", priority=True),
    ]

    def __init__(
        self,
        session: ClientSession,
        *,
        initial_path: str | None = None,
        target: Target | None = None,
        show_sidebar: bool | None = None,
        folder: FolderSync | None = None,
        voice: VoiceSettings | None = None,
        voice_devices: Callable[[VoiceSettings], AudioDevices] | None = None,
    ) -> None:
        super().__init__()
        self.session = session
        self.folder = folder
        self.voice_settings = voice or VoiceSettings()
        self.voice_devices = voice_devices
        self.voice_call = None
        self.push_to_talk = self.voice_settings.push_to_talk
        self._ptt_timer = None
        self._level_timer = None
        self._voice_turn = asyncio.Lock()
        self._meters_shown: dict[str, str] = {}
        self.initial_path = initial_path
        self.target = target or Target(session.url, session.room, session.key, embedded=False)
        self.current_file: str | None = None
        self.follow = Follow()
        self.unread = 0
        self._show_sidebar = show_sidebar
        self._opening = False
        self._create_requested = False
        self._presence_due: float = 0.0
        self._presence: p.SetPresence | None = None
        self._label_until: dict[str, float] = {}
        self._last_cursor: dict[str, int] = {}
        self._last_active: dict[str, float] = {}
        self._active_at: dict[str, float | None] = {}
        self._panels_timer: Timer | None = None
        self._error_shown: dict[str, float] = {}
        self._prompt_for: tuple[str, str | None] | None = None
        # Built here, not queried: session events reach them on a hot path, and may
        # still arrive while the app is shutting down.
        self.editor = PairEditor(id="editor")
        self.status_bar = StatusBar(id="status")
        self.files_panel = FilesPanel(id="files")
        self.people_panel = PeoplePanel(id="people")
        self.sidebar = Vertical(self.files_panel, self.people_panel, id="sidebar")
        self.chat_panel = ChatPanel(id="chat")

    def compose(self) -> ComposeResult:
        with Horizontal(id="body"):
            yield self.sidebar
            with Container(id="editor-area"):
                yield self.editor
            yield self.chat_panel
        yield self.status_bar
        yield Footer()

    async def on_ready(self) -> None:
        """The screen is composed: now session events have widgets to go to."""
        gc.set_threshold(*GC_THRESHOLDS)
        show = self._show_sidebar
        self.sidebar.display = self.size.width >= SIDEBAR_MIN_WIDTH if show is None else show
        self.chat_panel.display = False
        self.status_bar.room = self.session.room
        self.session.subscribe(self._on_session_event)
        await self.session.start(wait=False)
        if self.folder is not None:
            self.folder.notify = lambda text: self.notify(text, title="Folder sync", timeout=8)
            await self.folder.start()
        self.set_interval(PING_INTERVAL, self.session.ping)
        self.set_interval(0.5, self._refresh_status)
        self.set_interval(1.0, self._refresh_panels)  # typing turns to idle with time
        self.editor.focus()
        if self.session.key is None:
            self.notify(self.invite_text(), title="Pairing", timeout=8)
        else:
            self.notify("F1 shows the invite links for this room.", title="Pairing", timeout=8)

    async def on_unmount(self) -> None:
        self.session.unsubscribe(self._on_session_event)
        await self.close_voice()
        if self.folder is not None:
            await self.folder.close()
        await self.session.close()

    # -- session events (handled at once, in order) ---------------------------------

    def _on_session_event(self, event: SessionEvent) -> None:
        if isinstance(event, FileChanged):
            self._file_changed(event)
        elif isinstance(event, MembersChanged):
            self._members_changed()
        elif isinstance(event, FilesListed):
            self._files_listed()
        elif isinstance(event, StatusChanged):
            self._status_changed(event)
        elif isinstance(event, ErrorReceived):
            now = time.monotonic()
            if now - self._error_shown.get(event.code, -ERROR_QUIET) >= ERROR_QUIET:
                self._error_shown[event.code] = now  # a burst of one error is one notice
                self.notify(f"{event.message} ({event.code})", severity="error")
        elif isinstance(event, ChatReceived):
            self._chat_received(event.message)
        elif isinstance(event, SummonReceived):
            offer = self.follow.summoned(
                event.member, event.file, event.cursor, self.session.members
            )
            self.notify(
                f"{offer.name} asks you to come to {self._path_of(offer.file)}. "
                "F8 goes there and follows them.",
                title="Summoned",
                timeout=15,
            )
        elif isinstance(event, KeysReceived):
            self.notify(
                "The room has new keys; old invite links no longer work. F1 shows the new ones.",
                title="Room keys",
                timeout=10,
            )

    def _file_changed(self, event: FileChanged) -> None:
        if event.source == EDITOR:
            return  # typed here: the editor shows it already
        if event.member is not None and event.member != self.session.member:
            self._last_active[event.member] = time.monotonic()
        if event.file == self.current_file:
            self.editor.apply_remote(event.op)
            self._show_partners()

    def _status_changed(self, event: StatusChanged) -> None:
        self.status_bar.status = event.status
        self.status_bar.retry_at = event.retry_at
        self.status_bar.reason = event.reason
        if event.status == "connected":
            self.editor.read_only = self.session.role == "read"
            self.session.ping()  # a round trip to show at once, not in five seconds
            self.chat_panel.show_history(self.session.chat, self._paths())
        if event.status == "closed" and self.session.fatal_code == p.ErrorCode.BAD_KEY:
            self.exit()  # 'pair join' asks for the invite link, then joins again
        elif event.status == "closed" and event.reason:
            self.notify(event.reason, title="Disconnected", severity="error", timeout=30)

    def _members_changed(self) -> None:
        now = time.monotonic()
        for member_id, member in self.session.members.items():
            if self._active_at.get(member_id) != member.active_at:
                if member_id in self._active_at and member_id != self.session.member:
                    self._last_active[member_id] = now
                self._active_at[member_id] = member.active_at
        for effect in self.follow.members_changed(
            self.session.member, self.session.members, self.current_file
        ):
            self._follow_effect(effect)
        self._show_partners()
        self._queue_panels()

    def _files_listed(self) -> None:
        files = self.session.files
        self._queue_panels()
        if self.initial_path is not None:  # --file PATH, or a file just created here
            match = next((f for f in files if f.path == self.initial_path), None)
            if match is not None:
                self.initial_path = None
                self._create_requested = False
                self.run_worker(self.open_file(match.file), exclusive=True, group="open")
                return
            if not self._create_requested:
                self._create_requested = True
                self.session.create_file(self.initial_path)
        if self.current_file is not None and any(f.file == self.current_file for f in files):
            self.status_bar.path = self._path_of(self.current_file)
        elif files and not self._opening:
            if self.current_file is not None:
                self.notify(f"{self.status_bar.path} was deleted from the room.")
            self.current_file = None
            self.run_worker(self.open_file(files[0].file), exclusive=True, group="open")

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
        self.editor.on_local_op = lambda op, file=file: self._local_edit(file, op)
        self.status_bar.path = path
        self._show_partners()
        self._queue_panels()
        height = self.editor.size.height
        self._presence = p.SetPresence(
            file=file, cursor=0, anchor=0, viewport=(0, height), following=self.follow.target
        )
        self._queue_presence()

    def _local_edit(self, file: str, op: TextOperation) -> None:
        if file in self.session.syncs:  # a file deleted under us takes no more edits
            self.session.edit(file, op, source=EDITOR)

    # -- widgets report up -----------------------------------------------------------

    def on_pair_editor_cursor_moved(self, message: PairEditor.CursorMoved) -> None:
        self._presence = p.SetPresence(
            file=self.current_file,
            cursor=message.cursor,
            anchor=message.anchor,
            viewport=message.viewport,
            following=self.follow.target,
        )
        self._queue_presence()

    def on_pair_editor_interacted(self) -> None:
        """You moved or typed: follow mode lets go at once (and says how to resume)."""
        stopped = self.follow.stop()
        if stopped is not None:
            self._following_changed()
            self.notify(f"Stopped following {self._name_of(stopped)}. F5 resumes.", timeout=4)

    def on_files_panel_requested(self, message: FilesPanel.Requested) -> None:
        if message.action == "open" and message.file is not None:
            self._stop_following_quietly()
            self.run_worker(self._open_and_focus(message.file), exclusive=True, group="open")
        elif message.action == "new":
            self.action_new_file()
        elif message.action == "rename" and message.file is not None:
            self._ask_path("rename", message.file, self._path_of(message.file))
        elif message.action == "delete" and message.file is not None:
            self._confirm_delete(message.file)

    def on_people_panel_follow_requested(self, message: PeoplePanel.FollowRequested) -> None:
        self._start_following(message.member)

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

    # -- partners and panels ------------------------------------------------------------

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

    def _queue_panels(self) -> None:
        if self._panels_timer is None:
            self._panels_timer = self.set_timer(PANEL_INTERVAL, self._refresh_panels)

    def _refresh_panels(self) -> None:
        self._panels_timer = None
        members = self._members_seen_here()
        self.files_panel.show(
            self.session.files, members.values(), self.session.member, self.current_file
        )
        rows = describe_people(
            members,
            self.session.member,
            self._path_of,
            self._line_of,
            self._last_active,
            time.monotonic(),
            self.voice_call.levels() if self.voice_call is not None else None,
        )
        self.people_panel.show(rows)

    def _members_seen_here(self) -> dict[str, p.Member]:
        """The room's members, with my own entry as it is now (the relay echoes none of mine)."""
        members = dict(self.session.members)
        me = self.session.member
        presence = self._presence
        if me in members and presence is not None:
            rtt = self.session.rtt
            members[me] = msgspec.structs.replace(
                members[me],
                role=self.session.role,
                file=presence.file,
                cursor=presence.cursor,
                anchor=presence.anchor,
                viewport=presence.viewport,
                following=self.follow.target,
                rtt=None if rtt is None else round(rtt * 1000),
            )
        return members

    def on_text_area_changed(self) -> None:
        self.call_after_refresh(self._place_labels)

    def _refresh_status(self) -> None:
        self.status_bar.pending = self.session.pending
        self.status_bar.rtt = self.session.rtt
        self._place_labels()

    # -- panels ----------------------------------------------------------------------------

    def action_toggle_sidebar(self) -> None:
        """F2: show the files and people; again to hide them."""
        if not self.sidebar.display:
            self.sidebar.display = True
            self._refresh_panels()
            self.files_panel.focus()
        elif self.files_panel.has_focus or self.people_panel.has_focus:
            self.sidebar.display = False
            self.editor.focus()
        else:
            self.files_panel.focus()

    def _jump(self, file: str, then: Callable[[], None]) -> None:
        async def go() -> None:
            if file != self.current_file:
                await self.open_file(file)
            then()
            self.editor.focus()

        self.run_worker(go(), exclusive=True, group="open")

    # -- files ------------------------------------------------------------------------------

    def action_new_file(self) -> None:
        self._ask_path("new", None, "")

    def _ask_path(self, purpose: str, file: str | None, value: str) -> None:
        for old in self.query("#path-prompt").results(Input):
            old.remove()
        hint = "path of the new file, e.g. ex/02.py" if purpose == "new" else "new path"
        field = Input(
            value=value, placeholder=f"{hint} (Enter to confirm, Esc to cancel)", id="path-prompt"
        )
        self._prompt_for = (purpose, file)
        self.mount(field, before=self.status_bar)
        field.focus()

    def on_input_submitted(self, message: Input.Submitted) -> None:
        if message.input.id != "path-prompt" or self._prompt_for is None:
            return
        purpose, file = self._prompt_for
        self._prompt_for = None
        path = message.value.strip()
        message.input.remove()
        if path and purpose == "new":
            self.initial_path = path
            self._create_requested = True
            self.session.create_file(path)
        elif path and file is not None and path != self._path_of(file):
            self.session.rename_file(file, path)
        self.editor.focus()

    def on_key(self, event: events.Key) -> None:
        prompt = self.focused
        if event.key == "escape" and isinstance(prompt, Input) and prompt.id == "path-prompt":
            self._prompt_for = None
            prompt.remove()
            self.editor.focus()

    @work
    async def _confirm_delete(self, file: str) -> None:
        path = self._path_of(file)
        if await self.push_screen_wait(
            Confirm(f"Delete {path} for everyone in the room? Its text is gone for good.")
        ):
            self.session.delete_file(file)

    async def _open_and_focus(self, file: str) -> None:
        if file != self.current_file:
            await self.open_file(file)
        self.editor.focus()

    # -- small things -----------------------------------------------------------------------

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = False,
    ) -> None:
        """Plain text unless asked: notices carry chat, paths, names and commands such as
        pip install 'pairtui[voice]', whose brackets Textual would take for markup."""
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=markup)

    def action_undo(self) -> None:
        self.editor.action_undo()

    def action_redo(self) -> None:
        self.editor.action_redo()

    def action_select_all(self) -> None:
        self.editor.action_select_all()

    def action_select_line(self) -> None:
        self.editor.action_select_line()

    def _path_of(self, file: str) -> str:
        return next((f.path for f in self.session.files if f.file == file), file)

    def _paths(self) -> list[str]:
        return [f.path for f in self.session.files]

    def _name_of(self, member: str | None) -> str:
        person = self.session.members.get(member) if member else None
        return person.name if person else "your partner"

    def _line_of(self, file: str, cursor: int) -> int | None:
        if file == self.current_file:
            return self.editor.line_of(cursor)
        sync = self.session.syncs.get(file)
        return None if sync is None else sync.text.count("\n", 0, cursor) + 1
