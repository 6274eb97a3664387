"""The files panel: the room's files, who is in each, and keys to open, add, rename, delete.

It only shows what the app gives it and reports what the person asked for;
the app talks to the session.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar, Literal

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from pairtui.core import protocol as p

FileAction = Literal["open", "new", "rename", "delete"]


class FilesPanel(OptionList):
    """One line per file: the path, and a coloured dot with the initial of each person in it."""

    BORDER_TITLE = "Files"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("n", "request('new')", "New"),
        Binding("r", "request('rename')", "Rename"),
        Binding("d,delete", "request('delete')", "Delete"),
    ]

    class Requested(Message):
        """The person asked to do ``action`` to ``file`` (``None`` for a new file)."""

        def __init__(self, action: FileAction, file: str | None) -> None:
            super().__init__()
            self.action = action
            self.file = file

    def show(
        self,
        files: Iterable[p.FileInfo],
        members: Iterable[p.Member],
        me: str | None,
        current: str | None,
    ) -> None:
        """Redraw from the room's state, keeping the highlighted file highlighted."""
        # While the person moves through the list, keep their place; otherwise mark the open file.
        option = self.highlighted_option
        highlighted = option.id if self.has_focus and option is not None else current
        people = list(members)
        options = [
            Option(_prompt(info, people, me, info.file == current), id=info.file) for info in files
        ]
        self.set_options(options)
        ids = [info.id for info in options]
        if highlighted in ids:
            self.highlighted = ids.index(highlighted)

    def action_request(self, action: FileAction) -> None:
        option = self.highlighted_option
        if action != "new" and option is None:
            return
        self.post_message(self.Requested(action, option.id if option else None))

    def on_option_list_option_selected(self, message: OptionList.OptionSelected) -> None:
        message.stop()
        self.post_message(self.Requested("open", message.option.id))


def _prompt(info: p.FileInfo, people: list[p.Member], me: str | None, current: bool) -> Text:
    text = Text("▸ " if current else "  ", style="bold")
    text.append(info.path, style="bold" if current else "")
    for person in people:
        if person.file == info.file:
            mark = "●" if person.member != me else "○"
            text.append(f" {mark}{person.name[:1]}", style=person.color)
    return text
