"""Command palette entries: every action of the app, and one entry per file."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from typing import TYPE_CHECKING

from textual.command import Hit, Hits, Provider

if TYPE_CHECKING:
    from pairtui.ui.app import PairApp

ACTIONS = (
    ("Undo my last edit", "undo", "reverts only your own typing"),
    ("Redo", "redo", "re-applies what you undid"),
    ("Select all", "select_all", "the whole file"),
    ("Select line", "select_line", "the cursor's line"),
    ("New file", "new_file", "add a file to the room"),
    ("Show or hide files and people", "toggle_sidebar", "F2: the room's files and who is where"),
    ("Show or hide chat", "toggle_chat", "F3: messages, links and code"),
    ("Send selection to chat", "send_selection", "F4: the selected code with its file:line"),
    ("Follow, stop following, resume", "follow", "F5: go wherever your partner goes"),
    ("Go there", "go_there", "F8: where your partner moved, or where they summoned you"),
    ("Summon others to me", "summon", "F9: ask everyone to come to your file and line"),
    ("Voice: join or leave the call", "toggle_voice", "F6: talk with the people in the room"),
    ("Voice: mute or unmute", "voice_mute", "F7 (with push-to-talk: hold F7 to talk)"),
    ("Voice: push-to-talk on or off", "toggle_push_to_talk", "muted except while F7 is held"),
    ("Invite: how others join", "invite", "F1: the command or invite links for this room"),
    ("Rotate room keys", "rotate_keys", "old invite links stop working; people here stay"),
    ("Quit", "quit", "leave the room (unsent edits are kept locally)"),
)


class PairCommands(Provider):
    """Actions and files, searchable by name."""

    async def search(self, query: str) -> Hits:
        app: PairApp = self.app  # type: ignore[assignment]
        matcher = self.matcher(query)
        for title, command, help_text in self._entries(app):
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), command, help=help_text)

    @staticmethod
    def _entries(app: PairApp) -> Iterator[tuple[str, Callable[[], object], str]]:
        """Every entry: the app's actions, a file to open, a person to remove."""
        for title, action, help_text in ACTIONS:
            yield title, partial(app.run_action, action), help_text
        for info in app.session.files:
            yield f"Open {info.path}", partial(app.open_file, info.file), "switch to this file"
        for device in app.voice_device_choices():
            for kind, channels, thing in (
                ("input", device.inputs, "microphone"),
                ("output", device.outputs, "speaker"),
            ):
                default = device.default_input if kind == "input" else device.default_output
                if channels:
                    yield (
                        f"Voice: use {thing} {device.name}",
                        partial(app.run_action, f"voice_device({kind!r}, {device.name!r})"),
                        f"the {thing} for the call" + (" (the system default)" if default else ""),
                    )
        for member_id, member in app.session.members.items():
            if member_id != app.session.member:
                yield (
                    f"Remove {member.name} from the room",
                    partial(app.run_action, f"remove_member({member_id!r})"),
                    "disconnect them; rotate the keys to keep them out",
                )
