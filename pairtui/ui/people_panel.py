"""The people panel: everyone in the room, where they are, and what they are doing.

Choosing a person (Enter or ``f``) asks the app to follow them.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from pairtui.ui.people import PersonRow, level_bar
from pairtui.voice import SPEAKING_LEVEL

QUALITY_STYLES = {"good": "green", "fair": "yellow", "poor": "red", "unknown": "dim"}


class PeoplePanel(OptionList):
    """Three lines a person: name and role; file, line and activity; connection."""

    BORDER_TITLE = "People"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("f", "follow", "Follow")]

    class FollowRequested(Message):
        def __init__(self, member: str) -> None:
            super().__init__()
            self.member = member

    def show(self, rows: list[PersonRow]) -> None:
        highlighted = self.highlighted_option.id if self.highlighted_option else None
        self.set_options(Option(_prompt(row), id=row.member) for row in rows)
        ids = [row.member for row in rows]
        if highlighted in ids:
            self.highlighted = ids.index(highlighted)

    def action_follow(self) -> None:
        option = self.highlighted_option
        if option is not None and option.id is not None:
            self.post_message(self.FollowRequested(option.id))

    def on_option_list_option_selected(self, message: OptionList.OptionSelected) -> None:
        message.stop()
        if message.option.id is not None:
            self.post_message(self.FollowRequested(message.option.id))


def _prompt(row: PersonRow) -> Text:
    text = Text("● ", style=row.color)
    text.append(row.name, style=f"bold {row.color}")
    if row.is_me:
        text.append(" (you)", style="dim")
    text.append(f"  {row.role}", style="dim" if row.role == "can write" else "yellow")
    text.append(f"\n  {row.where}")
    text.append(f" · {row.activity}", style="green" if row.activity == "typing" else "dim")
    text.append("\n  ")
    text.append(row.quality, style=QUALITY_STYLES[row.quality_level])
    if row.following:
        text.append(f" · following {row.following}", style="italic")
    if row.voice == "muted":
        text.append(" · voice muted", style="yellow")
    elif row.voice == "on":
        speaking = row.level >= SPEAKING_LEVEL
        text.append(" · voice ", style="green")
        text.append(level_bar(row.level), style="bold green" if speaking else "green")
    return text
