"""Command palette entries: every action of the app, and one entry per file."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from textual.command import Hit, Hits, Provider

if TYPE_CHECKING:
    from pairtui.ui.app import PairApp

ACTIONS = (
    ("Undo my last edit", "undo", "reverts only your own typing"),
    ("Redo", "redo", "re-applies what you undid"),
    ("New file", "new_file", "add a file to the room"),
    ("Show or hide files and people", "toggle_sidebar", "F2: the room's files and who is where"),
    ("Show or hide chat", "toggle_chat", "F3: messages, links and code"),
    ("Send selection to chat", "send_selection", "F4: the selected code with its file:line"),
    ("Follow, stop following, resume", "follow", "F5: go wherever your partner goes"),
    ("Go there", "go_there", "F8: where your partner moved, or where they summoned you"),
    ("Summon others to me", "summon", "F9: ask everyone to come to your file and line"),
    ("How can my partner join?", "invite", "show the command your partner runs"),
    ("Quit", "quit", "leave the room (unsent edits are kept locally)"),
)


class PairCommands(Provider):
    """Actions and files, searchable by name."""

    async def search(self, query: str) -> Hits:
        app: PairApp = self.app  # type: ignore[assignment]
        matcher = self.matcher(query)
        for title, action, help_text in ACTIONS:
            score = matcher.match(title)
            if score > 0:
                yield Hit(
                    score, matcher.highlight(title), partial(app.run_action, action), help=help_text
                )
        for info in app.session.files:
            title = f"Open {info.path}"
            score = matcher.match(title)
            if score > 0:
                yield Hit(
                    score,
                    matcher.highlight(title),
                    partial(app.open_file, info.file),
                    help="switch to this file",
                )
