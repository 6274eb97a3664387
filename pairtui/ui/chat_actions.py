"""Chat in the app: F3 shows it, F4 sends the selection, links and ``path:line`` in it work.

``PairApp`` provides the session, the widgets and ``_jump``; the relay
limits how much and how fast anyone may post, and says so.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from textual.app import App

from pairtui.core import protocol as p
from pairtui.ui.chat_format import Link, reference_message
from pairtui.ui.chat_panel import ChatPanel
from pairtui.ui.highlight import lexer_for

if TYPE_CHECKING:
    from pairtui.client import ClientSession
    from pairtui.ui.editor import PairEditor
    from pairtui.ui.status import StatusBar


class ChatActions(App[int]):
    """Posting, reading and following what chat points at."""

    session: ClientSession
    editor: PairEditor
    chat_panel: ChatPanel
    status_bar: StatusBar
    current_file: str | None
    unread: int

    _paths: Callable[[], list[str]]  # PairApp defines these
    _jump: Callable[[str, Callable[[], None]], None]
    _stop_following_quietly: Callable[[], None]

    def action_toggle_chat(self) -> None:
        """F3: show chat and write in it; again to hide it."""
        chat = self.chat_panel
        if not chat.display:
            chat.display = True
            self.unread = 0
            self.status_bar.unread = 0
            chat.input.focus()
        elif chat.input.has_focus or chat.log_view.has_focus:
            chat.display = False
            self.editor.focus()
        else:
            chat.input.focus()

    def _chat_received(self, message: p.ChatMessage) -> None:
        self.chat_panel.add(message, self._paths())
        if message.member == self.session.member or self.chat_panel.display:
            return
        self.unread += 1
        self.status_bar.unread = self.unread
        self.notify(message.text[:200], title=f"{message.name} (F3 opens chat)")

    def on_chat_panel_send(self, message: ChatPanel.Send) -> None:
        if self._post_chat(message.text):
            self.chat_panel.input.clear()

    def on_chat_panel_activated(self, message: ChatPanel.Activated) -> None:
        target = message.target
        if isinstance(target, Link):
            self.action_open_link(target.url)
        else:
            self.action_jump_to(target.path, target.line)

    def on_chat_panel_leave(self) -> None:
        self.editor.focus()

    def action_send_selection(self) -> None:
        """F4: post the selection (or the cursor's line) with its file:line to chat."""
        if self.current_file is None:
            return
        first, last, code = self.editor.selected_lines()
        lexer = lexer_for(self.editor.path)
        language = lexer.aliases[0] if lexer is not None and lexer.aliases else ""
        text = reference_message(self.editor.path, first, last, code, language)
        if self._post_chat(text):
            where = f"{self.editor.path}:{first}" + (f"-{last}" if last != first else "")
            self.notify(f"Sent {where} to chat.", timeout=3)

    def _post_chat(self, text: str) -> bool:
        if len(text) > p.MAX_CHAT_LENGTH:
            self.notify(
                f"That is {len(text):,} characters; chat takes at most {p.MAX_CHAT_LENGTH:,}. "
                "Share long code as a file of the room instead (ctrl+n).",
                severity="warning",
            )
            return False
        if not self.session.send_chat(text):
            self.notify(
                "You are offline: the message was not sent; it stays in the box for later.",
                severity="warning",
            )
            return False
        return True

    def action_open_link(self, url: str) -> None:
        """Open a link from chat in the browser (the terminal may also open it on click)."""
        self.open_url(url)
        self.notify(f"Opening {url}", timeout=3)

    def action_jump_to(self, path: str, line: int) -> None:
        """Go to ``path:line`` from a chat reference."""
        file = self.session.file_id(path)
        if file is None:
            self.notify(f"{path} is no longer in the room.", severity="warning")
            return
        self._stop_following_quietly()
        self._jump(
            file, lambda: self.editor.move_to_index(self.editor.index_of_line(line), center=True)
        )
