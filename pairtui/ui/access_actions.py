"""Room keys in the app: the invite text (F1), rotating the keys, removing a person.

``PairApp`` provides the session, the join target and ``_name_of``; the
relay decides who may do these (writers only) and says so to others.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from textual import work
from textual.app import App

from pairtui.access import Target, invite_text
from pairtui.ui.confirm import Confirm

if TYPE_CHECKING:
    from pairtui.client import ClientSession


class AccessActions(App[int]):
    """Invite, rotate room keys, remove a member."""

    session: ClientSession
    target: Target

    _name_of: Callable[[str | None], str]  # PairApp defines it

    def invite_text(self) -> str:
        return invite_text(self.target, self.session.key, self.session.role)

    def action_invite(self) -> None:
        self.notify(self.invite_text(), title="Invite", timeout=20)

    @work
    async def action_rotate_keys(self) -> None:
        question = (
            "Give this room new keys? Old invite links stop working; everyone in the room "
            "now gets the new keys."
        )
        if await self.push_screen_wait(Confirm(question)):
            self.session.rotate_keys()

    @work
    async def action_remove_member(self, member: str) -> None:
        name = self._name_of(member)
        question = (
            f"Remove {name} from the room? To keep them out, rotate the keys next "
            "(they may still hold a link)."
        )
        if await self.push_screen_wait(Confirm(question)):
            self.session.remove_member(member)
