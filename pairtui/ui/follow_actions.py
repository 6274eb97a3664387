"""Follow mode, "go there" and summon in the app: the glue between keys and ``Follow``.

The rules (whom you may follow, when following stops, what a summon offers)
live in ``follow.py``; this mixin turns their effects into moves of the
editor, notices and presence, and holds the F5, F8 and F9 actions.
``PairApp`` provides the state it declares.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import msgspec
from textual.app import App
from textual.containers import Vertical

from pairtui.core import protocol as p
from pairtui.ui.follow import Follow, FollowEffect, MoveTo, Offer, Stopped

if TYPE_CHECKING:
    from pairtui.client import ClientSession
    from pairtui.ui.editor import PairEditor
    from pairtui.ui.people_panel import PeoplePanel
    from pairtui.ui.status import StatusBar


class FollowActions(App[int]):
    """F5 follow / stop / resume, F8 go there, F9 summon."""

    session: ClientSession
    follow: Follow
    editor: PairEditor
    status_bar: StatusBar
    sidebar: Vertical
    people_panel: PeoplePanel
    current_file: str | None
    _opening: bool
    _presence: p.SetPresence | None

    # The app's own helpers this mixin calls (PairApp defines them).
    open_file: Callable[[str], Awaitable[None]]
    _queue_presence: Callable[[], None]
    _send_presence: Callable[[], None]
    _queue_panels: Callable[[], None]
    _jump: Callable[[str, Callable[[], None]], None]
    _path_of: Callable[[str], str]
    _name_of: Callable[[str | None], str]

    def _start_following(self, member: str) -> None:
        refusal = self.follow.start(self.session.member, member, self.session.members)
        if refusal is not None:
            self.notify(f"Cannot follow: {refusal}.", severity="warning")
            return
        self._following_changed()
        self.notify(f"Following {self._name_of(member)}. Move or type to stop.", timeout=4)
        self.editor.focus()
        for effect in self.follow.members_changed(
            self.session.member, self.session.members, self.current_file
        ):
            self._follow_effect(effect)

    def _follow_effect(self, effect: FollowEffect) -> None:
        if isinstance(effect, MoveTo):
            if effect.file == self.current_file:
                self.editor.show_like(effect.cursor, effect.viewport)
            elif not self._opening:
                self.run_worker(self._follow_into(effect.file), exclusive=True, group="open")
        elif isinstance(effect, Stopped):
            self._following_changed()
            self.notify(f"Stopped following: {effect.reason}. F5 resumes.", timeout=6)
        elif isinstance(effect, Offer) and effect.kind == "moved":
            path = self._path_of(effect.file)
            self.notify(f"{effect.name} moved to {path}. F8 goes there.", timeout=5)

    async def _follow_into(self, file: str) -> None:
        await self.open_file(file)
        target = self.follow.target
        person = self.session.members.get(target) if target else None
        if person is not None and person.file == file:
            self.editor.show_like(person.cursor or 0, person.viewport)

    def _following_changed(self) -> None:
        self.status_bar.following = self._name_of(self.follow.target) if self.follow.target else ""
        presence = self._presence or p.SetPresence(file=self.current_file, cursor=0)
        self._presence = msgspec.structs.replace(presence, following=self.follow.target)
        self._queue_presence()
        self._queue_panels()

    def _stop_following_quietly(self) -> None:
        if self.follow.stop() is not None:
            self._following_changed()

    def action_follow(self) -> None:
        """F5: stop following, resume whom you followed last, or choose whom to follow."""
        if self.follow.target is not None:
            stopped = self.follow.stop()
            self._following_changed()
            self.notify(f"Stopped following {self._name_of(stopped)}. F5 resumes.", timeout=4)
            return
        last = self.follow.last_target
        if last is not None and last in self.session.members:
            self._start_following(last)
            return
        others = [m for m in self.session.members if m != self.session.member]
        if not others:
            self.notify("Nobody else is here to follow yet. F1 shows how a partner joins.")
        elif len(others) == 1:
            self._start_following(others[0])
        else:
            self.sidebar.display = True
            self.people_panel.focus()
            self.notify("Choose whom to follow, then press Enter.")

    def action_go_there(self) -> None:
        """F8: go where a partner just moved, or accept a summon (and follow them)."""
        offer = self.follow.take_offer()
        if offer is None:
            self.notify("Nowhere to go: nobody moved to another file or summoned you.")
            return
        if offer.kind == "summon" and offer.member in self.session.members:
            self._start_following(offer.member)
            return
        self._jump(offer.file, lambda: self.editor.move_to_index(offer.cursor, center=True))

    def action_summon(self) -> None:
        """F9: ask everyone else to come to your file and cursor."""
        if self.current_file is None:
            self.notify("Open a file first: a summon brings people to where you are.")
            return
        self._send_presence()  # where I am now, not 50 ms ago
        self.session.summon()
        self.notify("Asked the others to come to you.", timeout=4)
