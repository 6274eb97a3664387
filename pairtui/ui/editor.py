"""The shared-file editor: Textual's TextArea, speaking operations instead of keystrokes.

Every change the person makes reaches ``TextArea.edit``; this widget turns it
into a ``TextOperation`` and hands it to ``on_local_op`` (set by the app) at
once, so the sync engine never lags the screen. Remote operations come in
through ``apply_remote``, which keeps your cursor on the text it was on.
Undo and redo go through ``core/undo.py``: only your own edits, transformed
past your partner's. Highlighting comes from Pygments through the incremental
``Highlighter``; partners' cursors and selections are drawn in their colours.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import ClassVar

from rich.cells import cell_len
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.document._document import EditResult
from textual.document._edit import Edit
from textual.document._wrapped_document import WrappedDocument
from textual.geometry import Size
from textual.message import Message
from textual.timer import Timer
from textual.widgets import TextArea
from textual.widgets.text_area import Selection

from pairtui.core.ot import TextOperation, transform_index
from pairtui.core.undo import UndoManager
from pairtui.ui.highlight import Highlighter, lexer_for

Location = tuple[int, int]
CATCH_UP_DELAY = 0.3  # seconds after the last edit before highlighting the rest
CATCH_UP_LINES = 400  # lines per idle step: a few milliseconds
VERIFY_MAX_LINES = 3_000  # small files are re-lexed whole when idle (see Highlighter)


@dataclass(frozen=True)
class RemoteCursor:
    """A partner's cursor and selection in this file, in code point indices."""

    member: str
    name: str
    color: str
    cursor: int
    anchor: int


class _LazyHighlights:
    """Stands in for TextArea's highlight map: computes a line's highlights on demand."""

    def __init__(self, editor: PairEditor) -> None:
        self._editor = editor

    def __bool__(self) -> bool:
        return True

    def __getitem__(self, row: int) -> list[tuple[int, int | None, str]]:
        return self._editor.line_highlights(row)

    def clear(self) -> None:
        return None


class _CachedHeight(WrappedDocument):
    """A WrappedDocument whose height is computed once per change.

    TextArea asks for the height once per rendered line, and the base class
    sums over every line each time: 20,000 lines made a frame take 200 ms.
    """

    _cached_height: int | None = None

    @property
    def height(self) -> int:
        if self._cached_height is None:
            self._cached_height = WrappedDocument.height.fget(self)  # type: ignore[attr-defined]
        return self._cached_height

    def wrap(self, width: int, tab_width: int | None = None) -> None:
        self._cached_height = None
        super().wrap(width, tab_width)

    def wrap_range(self, start: Location, old_end: Location, new_end: Location) -> None:
        cached = self._cached_height
        offsets = self._wrap_offsets
        top = min(start[0], old_end[0])
        before = sum(len(o) + 1 for o in offsets[top : old_end[0] + 1])
        super().wrap_range(start, old_end, new_end)
        if cached is not None:
            after = sum(len(o) + 1 for o in self._wrap_offsets[top : new_end[0] + 1])
            self._cached_height = cached - before + after


APP_KEYS = {"f6", "f7"}
"""TextArea's select-line and select-all keys, which the app uses for voice (the command
palette has both selections)."""
TEXT_AREA_BINDINGS: list[BindingType] = [
    binding
    for binding in TextArea.BINDINGS
    if not (isinstance(binding, Binding) and set(binding.key.split(",")) & APP_KEYS)
]
"""TextArea's keys but the app's: for text areas with ``inherit_bindings=False``."""


class PairEditor(TextArea, inherit_bindings=False):
    """A TextArea bound to one shared file."""

    BINDINGS: ClassVar[list[BindingType]] = TEXT_AREA_BINDINGS

    DEFAULT_CSS = """
    PairEditor { height: 1fr; border: none; padding: 0; }
    """

    class CursorMoved(Message):
        """The local cursor or selection moved (coalesced: only the latest matters)."""

        def __init__(self, cursor: int, anchor: int, viewport: tuple[int, int]) -> None:
            super().__init__()
            self.cursor = cursor
            self.anchor = anchor
            self.viewport = viewport

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, PairEditor.CursorMoved)

    class Typed(Message):
        """The person changed the text (follow mode and idle detection listen)."""

    class Interacted(Message):
        """The person pressed a key, clicked or scrolled here: follow mode stops."""

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, PairEditor.Interacted)

    def __init__(self, **kwargs: object) -> None:
        # TextArea's constructor already calls overridden hooks: set their state first.
        self._shadow = ""  # exactly the text on screen, as one string for index math
        self._applying_remote = False
        self._highlighter: Highlighter | None = None
        self._pair_styles: dict[str, Style] = {}
        self._cursor_locations: list[tuple[str, Location, Location, Location]] | None = None
        self.remote_cursors: list[RemoteCursor] = []
        self._widest = 0  # widest line in cells; grows with edits, exact after a load
        self._catch_up_timer: Timer | None = None
        super().__init__(
            soft_wrap=False,
            show_line_numbers=True,
            tab_behavior="indent",
            theme="monokai",
            max_checkpoints=1,
            **kwargs,  # type: ignore[arg-type]
        )
        self._highlights = _LazyHighlights(self)  # type: ignore[assignment]
        self.wrapped_document.__class__ = _CachedHeight
        self.indent_type = "spaces"
        self.indent_width = 4
        self.on_local_op: Callable[[TextOperation], None] | None = None
        self.undo_manager = UndoManager()
        self.path = ""
        self.last_keystroke_seconds = 0.0

    # -- loading and remote changes (attributes and calls down from the app) ----------

    @property
    def text(self) -> str:
        """The whole text, without joining 20,000 lines on every rendered line."""
        return self._shadow

    @text.setter
    def text(self, text: str) -> None:
        self.load(self.path, text)

    def _set_document(self, text: str, language: str | None) -> None:
        super()._set_document(text, language)
        self.wrapped_document.__class__ = _CachedHeight

    def load(self, path: str, text: str) -> None:
        """Show ``text`` as file ``path`` with fresh undo history."""
        self.path = path
        self._shadow = text
        self._applying_remote = True
        try:
            self.load_text(text)
        finally:
            self._applying_remote = False
        self.undo_manager = UndoManager()
        document = self.document
        self._highlighter = Highlighter(
            lexer_for(path),
            document.get_line,
            document.line_count,
            get_text=lambda: self._shadow,
            line_offset=self._line_offset,
        )
        self._widest = max((cell_len(line.expandtabs(4)) for line in document.lines), default=0)
        self._line_cache.clear()
        self._catch_up_later()
        self.refresh()

    def apply_remote(self, op: TextOperation) -> None:
        """Apply a partner's op; your cursor and selection stay on their text."""
        cursor = self._index(self.selection.end)
        anchor = self._index(self.selection.start)
        self._show_op(op)
        self.undo_manager.remote(op)
        cursor = transform_index(cursor, op, own=False)
        anchor = transform_index(anchor, op, own=False)
        self.selection = Selection(self._location(anchor), self._location(cursor))

    def set_remote_cursors(self, cursors: list[RemoteCursor]) -> None:
        """Partners' cursors in this file, to be drawn in their colours."""
        old_rows = self._cursor_rows()
        self.remote_cursors = cursors
        self._cursor_locations = None
        rows = old_rows | self._cursor_rows()
        for cursor in cursors:
            base = Style.parse(cursor.color)
            self._pair_styles[f"pair.{cursor.member}.cursor"] = Style(
                bgcolor=base.color, color="black", bold=True
            )
            self._pair_styles[f"pair.{cursor.member}.selection"] = Style(
                bgcolor=base.color, dim=True
            )
        self._theme.syntax_styles.update(self._pair_styles)
        if len(rows) > 64:
            self._line_cache.clear()
        else:
            self._forget_rows(rows)
        self.refresh()

    def _located_cursors(self) -> list[tuple[str, Location, Location, Location]]:
        """Partners' (member, selection start, selection end, cursor) as locations, cached."""
        if self._cursor_locations is None:
            located = []
            for c in self.remote_cursors:
                anchor, cursor = self._location(c.anchor), self._location(c.cursor)
                located.append((c.member, min(anchor, cursor), max(anchor, cursor), cursor))
            self._cursor_locations = located
        return self._cursor_locations

    def _cursor_rows(self) -> set[int]:
        """Rows on which partners' cursors or selections are drawn."""
        rows: set[int] = set()
        for _, low, high, _cursor in self._located_cursors():
            rows.update(range(low[0], min(high[0], low[0] + 65) + 1))
        return rows

    @property
    def text_now(self) -> str:
        """The text on screen (without joining the document's lines)."""
        return self._shadow

    def cursor_index(self) -> int:
        return self._index(self.selection.end)

    def move_to_index(self, index: int, *, center: bool = False) -> None:
        location = self._location(min(index, len(self._shadow)))
        self.selection = Selection.cursor(location)
        self.scroll_cursor_visible(center=center)

    def show_like(self, cursor: int, viewport: tuple[int, int] | None) -> None:
        """Put the cursor at ``cursor`` and the view where a partner has theirs (follow)."""
        self.selection = Selection.cursor(self._location(min(cursor, len(self._shadow))))
        if viewport is not None:  # their view, even when their cursor is off it
            self.scroll_to(y=viewport[0], animate=False, immediate=True)
        else:
            self.scroll_cursor_visible()

    def line_of(self, index: int) -> int:
        """The 1-based line of a text index."""
        return self._location(index)[0] + 1

    def index_of_line(self, line: int) -> int:
        """The index where 1-based ``line`` starts (the last line if there are fewer)."""
        row = max(0, min(line - 1, self.document.line_count - 1))
        return self._line_offset(row)

    def selected_lines(self) -> tuple[int, int, str]:
        """First and last line (1-based) and text of the selection, or of the cursor's line."""
        start, end = sorted((self.selection.start, self.selection.end))
        if start == end:
            row = start[0]
            return row + 1, row + 1, self.document.get_line(row)
        if end[1] == 0 and end[0] > start[0]:
            end = (end[0] - 1, len(self.document.get_line(end[0] - 1)))
        return start[0] + 1, end[0] + 1, self._shadow[self._index(start) : self._index(end)]

    # -- what the person does (follow mode listens) -------------------------------------

    async def _on_key(self, event: events.Key) -> None:
        self.post_message(self.Interacted())
        await super()._on_key(event)

    async def _on_mouse_down(self, event: events.MouseDown) -> None:
        self.post_message(self.Interacted())
        await super()._on_mouse_down(event)

    def _on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        self.post_message(self.Interacted())
        super()._on_mouse_scroll_up(event)

    def _on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        self.post_message(self.Interacted())
        super()._on_mouse_scroll_down(event)

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        """Scrolling changes the viewport that followers copy: tell the app."""
        super().watch_scroll_y(old_value, new_value)
        if round(old_value) != round(new_value) and not self._applying_remote:
            self._post_cursor(self.selection)

    # -- local edits ------------------------------------------------------------------

    def edit(self, edit: Edit) -> EditResult:
        if self._applying_remote:
            return super().edit(edit)
        started = time.perf_counter()
        text = edit.text.replace("\r\n", "\n").replace("\r", "\n")
        start, end = sorted((edit.from_location, edit.to_location))
        start_index, end_index = self._index(start), self._index(end)
        op = TextOperation.from_edit(len(self._shadow), start_index, end_index - start_index, text)
        before = self._shadow
        result = self._replace_span(
            start_index, end_index - start_index, text, edit.maintain_selection_offset
        )
        self.undo_manager.record(op, before, time.monotonic())
        if self.on_local_op is not None:
            self.on_local_op(op)
        self.post_message(self.Typed())
        self.last_keystroke_seconds = time.perf_counter() - started
        return result

    def action_undo(self) -> None:
        self._apply_own(self.undo_manager.undo(self._shadow))

    def action_redo(self) -> None:
        self._apply_own(self.undo_manager.redo(self._shadow))

    def undo(self) -> None:
        self.action_undo()

    def redo(self) -> None:
        self.action_redo()

    def _apply_own(self, op: TextOperation | None) -> None:
        """An undo or redo: a local edit that must not enter the undo history again."""
        if op is None:
            self.app.bell()
            return
        edits = list(op.edits())
        self._show_op(op)  # not recorded as a new edit: it is the undo itself
        first_change = transform_index(edits[0][0], op, own=True) if edits else 0
        self.selection = Selection.cursor(self._location(first_change))
        if self.on_local_op is not None:
            self.on_local_op(op)
        self.post_message(self.Typed())

    def _show_op(self, op: TextOperation) -> None:
        """Apply an op that is not a keystroke here (a partner's, or an undo) to the screen."""
        self._applying_remote = True
        try:
            for position, deleted, inserted in reversed(list(op.edits())):
                self._replace_span(position, deleted, inserted)
        finally:
            self._applying_remote = False

    def _replace_span(
        self, position: int, deleted: int, text: str, maintain_selection_offset: bool = True
    ) -> EditResult:
        """Replace text on screen: the document, the shadow string, highlighting, the cache.

        They change together here, so that highlighting never lexes stale text.
        """
        start, end = self._location(position), self._location(position + deleted)
        bottom = end[0]
        shadow = self._shadow
        # First: TextArea moves the selection inside ``edit``, and the index of the new
        # cursor that the selection watcher reports is measured on the shadow.
        self._shadow = shadow[:position] + text + shadow[position + deleted :]
        result = super().edit(Edit(text, start, end, maintain_selection_offset))
        new_bottom = result.end_location[0]
        lines = self.document.lines
        widest = self._widest
        for row in range(start[0], new_bottom + 1):  # the lines this edit made
            widest = max(widest, cell_len(lines[row].expandtabs(4)))
        if widest != self._widest:
            self._widest = widest
            self._refresh_size()  # TextArea sized itself before the new lines were measured
        self._cursor_locations = None
        rows_moved = bottom != start[0] or new_bottom != start[0]
        highlighter = self._highlighter
        if highlighter is not None:
            highlighter.edited(start[0], bottom, new_bottom)
            highlighter.changed_rows.clear()
            highlighter.spans(start[0])  # re-lex now, to learn which lines look different
            self._catch_up_later()
        if rows_moved or highlighter is None or not highlighter.settled:
            self._line_cache.clear()  # lines below shifted, or highlighting still moving
        else:
            self._forget_rows({start[0], *highlighter.changed_rows})
        self.refresh()  # a terminal repaints only what is marked; unchanged lines are cached
        return result

    def _forget_rows(self, rows: set[int]) -> None:
        """Drop cached renderings of these document rows only (no soft wrap: row == y)."""
        cache = self._line_cache
        for key in [k for k in cache.keys() if k[2] in rows]:  # noqa: SIM118  (an LRUCache)
            cache.discard(key)

    def _refresh_size(self) -> None:
        """TextArea measures every line on every edit; the widest line is tracked instead."""
        if self.soft_wrap:
            super()._refresh_size()
            return
        self.virtual_size = Size(self._widest + self.gutter_width + 1, self.wrapped_document.height)

    def _catch_up_later(self) -> None:
        """Once typing pauses, highlight the rest of the file a little at a time."""
        if self._catch_up_timer is not None:
            self._catch_up_timer.stop()
        if self.is_mounted:
            self._catch_up_timer = self.set_timer(CATCH_UP_DELAY, self._catch_up)

    def _catch_up(self) -> None:
        highlighter = self._highlighter
        if highlighter is None:
            return
        if not highlighter.advance(CATCH_UP_LINES):
            self._catch_up_timer = self.set_timer(0.005, self._catch_up)
            return
        if highlighter.line_count <= VERIFY_MAX_LINES and highlighter.verify_all():
            self._line_cache.clear()
            self.refresh()
        # The document and its highlighting now live long: keep the garbage collector's
        # full passes from walking them between keystrokes (100 ms pauses on 20,000 lines).
        gc.freeze()

    def _build_highlight_map(self) -> None:
        """TextArea calls this after every edit; ``_replace_span`` decides what to
        re-render instead (usually one line), and lines are highlighted lazily."""

    def _set_theme(self, theme: str) -> None:
        super()._set_theme(theme)
        self._theme.syntax_styles = {**self._theme.syntax_styles, **self._pair_styles}

    def _watch_selection(self, previous: Selection, selection: Selection) -> None:
        super()._watch_selection(previous, selection)
        if self._applying_remote:
            return
        self._post_cursor(selection)

    def _post_cursor(self, selection: Selection) -> None:
        top = self.scroll_offset.y
        self.post_message(
            self.CursorMoved(
                self._index(selection.end),
                self._index(selection.start),
                (top, top + self.size.height),
            )
        )

    # -- highlights -----------------------------------------------------------------------

    def line_highlights(self, row: int) -> list[tuple[int, int | None, str]]:
        """Syntax spans plus partners' cursors for line ``row``, in UTF-8 byte columns."""
        spans: list[tuple[int, int, str]] = []
        if self._highlighter is not None:
            spans.extend(self._highlighter.spans(row))
        spans.extend(self._cursor_spans(row))
        if not spans:
            return []
        line = self.document.get_line(row)
        if line.isascii():
            return list(spans)
        byte_at = _byte_columns(line)
        return [(byte_at[min(s, len(line))], byte_at[min(e, len(line))], n) for s, e, n in spans]

    def _cursor_spans(self, row: int) -> Iterator[tuple[int, int, str]]:
        if not self.remote_cursors:
            return
        line_length = len(self.document.get_line(row))
        for member, low, high, (cursor_row, cursor_column) in self._located_cursors():
            if low != high and low[0] <= row <= high[0]:
                start = low[1] if low[0] == row else 0
                end = high[1] if high[0] == row else line_length
                if end > start:
                    yield start, end, f"pair.{member}.selection"
            if cursor_row == row:
                yield cursor_column, cursor_column + 1, f"pair.{member}.cursor"

    # -- index math on the shadow text ------------------------------------------------------

    def _line_offset(self, row: int) -> int:
        lines = self.document.lines
        return sum(map(len, lines[:row])) + row

    def _index(self, location: Location) -> int:
        row, column = location
        row = min(row, self.document.line_count - 1)
        return min(self._line_offset(row) + column, len(self._shadow))

    def _location(self, index: int) -> Location:
        shadow = self._shadow
        index = max(0, min(index, len(shadow)))
        row = shadow.count("\n", 0, index)
        return row, index - (shadow.rfind("\n", 0, index) + 1)

    def screen_offset_of(self, index: int) -> tuple[int, int] | None:
        """Where a text index appears inside this widget, or ``None`` if scrolled away."""
        row, column = self._location(index)
        scroll_x, scroll_y = self.scroll_offset
        line = self.document.get_line(row)
        x = cell_len(line[:column].expandtabs(self.indent_width)) - scroll_x + self.gutter_width
        y = row - scroll_y
        if not (0 <= y < self.size.height and self.gutter_width <= x < self.size.width):
            return None
        return x, y


def _byte_columns(line: str) -> list[int]:
    """UTF-8 byte offset of each code point column (and one past the end)."""
    offsets = [0]
    for char in line:
        offsets.append(offsets[-1] + len(char.encode("utf-8")))
    return offsets
