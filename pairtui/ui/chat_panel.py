"""The chat panel: the room's messages, and a line to write one.

Each message shows its author's name in their colour and the time. Links
are terminal hyperlinks, and clicking one (or Enter on its message) opens
it; fenced code is highlighted with Pygments; a ``path:line`` reference to a
file of the room jumps there. The log keeps the latest ``MAX_SHOWN``
messages and shortens very long ones, so a flood cannot slow the editor.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import ClassVar

from pygments.lexers import get_lexer_by_name
from pygments.util import ClassNotFound
from rich.console import Group, RenderableType
from rich.style import Style
from rich.syntax import Syntax
from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import ListItem, ListView, Static, TextArea

from pairtui.core import protocol as p
from pairtui.ui.chat_format import Code, Link, Piece, Plain, Reference, parse_message
from pairtui.ui.editor import TEXT_AREA_BINDINGS

MAX_SHOWN = 300
MAX_TEXT_SHOWN = 2_000
MAX_CODE_LINES = 30


class ChatEntry(ListItem):
    """One message; remembers its links and references for keyboard use."""

    def __init__(self, message: p.ChatMessage, paths: Iterable[str]) -> None:
        self.message = message
        self.pieces = parse_message(message.text, paths)
        super().__init__(Static(render_message(message, self.pieces)), classes="chat-entry")

    @property
    def target(self) -> Link | Reference | None:
        """What Enter on this message opens: its first reference, else its first link."""
        references = [piece for piece in self.pieces if isinstance(piece, Reference)]
        links = [piece for piece in self.pieces if isinstance(piece, Link)]
        return (references or links or [None])[0]


class ChatInput(TextArea, inherit_bindings=False):
    """Where a message is written: Enter sends, ctrl+j starts a new line, pastes keep theirs."""

    BINDINGS: ClassVar[list[BindingType]] = TEXT_AREA_BINDINGS

    DEFAULT_CSS = """
    ChatInput { height: auto; max-height: 8; min-height: 3; }
    """

    class Submitted(Message):
        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    def __init__(self, **kwargs: str | None) -> None:
        super().__init__(
            placeholder="Message: Enter sends, ctrl+j new line (F4 in the editor sends code)",
            soft_wrap=True,
            **kwargs,  # type: ignore[arg-type]
        )

    async def _on_key(self, event: events.Key) -> None:
        if event.key == "enter":
            event.stop()
            event.prevent_default()
            self.post_message(self.Submitted(self.text))
            return
        if event.key == "ctrl+j":
            event.stop()
            event.prevent_default()
            self.insert("\n")
            return
        await super()._on_key(event)


class ChatPanel(Vertical):
    """The log above, the input below."""

    BORDER_TITLE = "Chat"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "leave", "Back to editor")]

    class Send(Message):
        """The person wants to post ``text``."""

        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    class Activated(Message):
        """Enter on a message: open its link or jump to its reference."""

        def __init__(self, target: Link | Reference) -> None:
            super().__init__()
            self.target = target

    class Leave(Message):
        """Escape: back to the editor."""

    def __init__(self, **kwargs: str | None) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.log_view = ListView(id="chat-log")
        self.input = ChatInput(id="chat-input")

    def compose(self) -> ComposeResult:
        yield self.log_view
        yield self.input

    def show_history(self, messages: Iterable[p.ChatMessage], paths: Iterable[str]) -> None:
        """Replace the log with ``messages`` (the recent history, on joining)."""
        known = list(paths)
        self.log_view.clear()
        self.log_view.extend(ChatEntry(m, known) for m in list(messages)[-MAX_SHOWN:])
        self.call_after_refresh(self.log_view.scroll_end, animate=False)

    def add(self, message: p.ChatMessage, paths: Iterable[str]) -> None:
        """Append one message, dropping the oldest beyond ``MAX_SHOWN``."""
        self.log_view.append(ChatEntry(message, paths))
        excess = len(self.log_view) - MAX_SHOWN
        if excess > 0:
            self.log_view.remove_items(range(excess))
        self.call_after_refresh(self.log_view.scroll_end, animate=False)

    def on_chat_input_submitted(self, message: ChatInput.Submitted) -> None:
        message.stop()
        text = message.text.strip("\n")
        if text.strip():
            self.post_message(self.Send(text))  # the app clears the input once it is sent

    def on_list_view_selected(self, message: ListView.Selected) -> None:
        message.stop()
        item = message.item
        if isinstance(item, ChatEntry) and item.target is not None:
            self.post_message(self.Activated(item.target))

    def action_leave(self) -> None:
        self.post_message(self.Leave())


def render_message(message: p.ChatMessage, pieces: list[Piece]) -> RenderableType:
    """Header (time, name in colour) and the message, ready for a ``Static``."""
    header = Text()
    header.append(f"{message_time(message.time)} ", style="dim")
    header.append(message.name, style=f"bold {message.color}")
    parts: list[RenderableType] = [header]
    text = Text()
    budget = MAX_TEXT_SHOWN
    for piece in pieces:
        if isinstance(piece, Code):
            if text:
                parts.append(text)
                text = Text()
            parts.append(_code(piece))
            continue
        if isinstance(piece, Plain):
            shown = piece.text[:budget]
            budget -= len(shown)
            text.append(shown)
            if len(shown) < len(piece.text):
                text.append(f"… ({len(piece.text) - len(shown):,} more characters)", style="dim")
        elif isinstance(piece, Link):
            click = Style.from_meta({"@click": ("app.open_link", (piece.url,))})
            text.append(piece.url, style=Style(underline=True, link=piece.url) + click)
        else:
            where = f"{piece.path}:{piece.line}"
            if piece.end_line != piece.line:
                where += f"-{piece.end_line}"
            click = Style.from_meta({"@click": ("app.jump_to", (piece.path, piece.line))})
            text.append(where, style=Style(underline=True, color="cyan") + click)
    if text:
        parts.append(text)
    return Group(*parts)


def message_time(seconds: float) -> str:
    """When a message was posted, in this machine's local time."""
    return time.strftime("%H:%M", time.localtime(seconds))


def _code(piece: Code) -> RenderableType:
    lines = piece.code.split("\n")
    shown = "\n".join(lines[:MAX_CODE_LINES])
    try:
        language = get_lexer_by_name(piece.language).aliases[0]
    except (ClassNotFound, IndexError):
        language = "text"
    syntax = Syntax(shown, language, theme="monokai", word_wrap=True, padding=(0, 1))
    if len(lines) <= MAX_CODE_LINES:
        return syntax
    more = Text(f"… {len(lines) - MAX_CODE_LINES} more lines", style="dim")
    return Group(syntax, more)
