"""Follow mode, "go there" and summon, as a small state machine with no widgets in it.

Following is opt-in and stops by itself the moment you move or type (the app
calls ``stop`` on any key, click or scroll of yours), remembering whom you
followed so one key resumes. While you do not follow anyone, a partner moving
to another file becomes a quiet offer to go there; a summon is the same offer,
and accepting it also follows the summoner.

Two people never chase each other: starting to follow someone who already
follows you (directly or around a longer cycle) is refused, and when two
people start at the same moment, both apps see the cycle in the presence they
receive and the same one of them (the larger member id) stops.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, TypeAlias

from pairtui.core import protocol as p


@dataclass(frozen=True)
class MoveTo:
    """Show ``file`` with the cursor at ``cursor`` and the view at ``viewport``."""

    member: str
    file: str
    cursor: int
    viewport: tuple[int, int] | None


@dataclass(frozen=True)
class Stopped:
    """Following ended without you asking; tell the person why."""

    reason: str


@dataclass(frozen=True)
class Offer:
    """Somewhere to go with one key: a partner moved there, or summoned you."""

    member: str
    name: str
    file: str
    cursor: int
    kind: Literal["moved", "summon"]


FollowEffect: TypeAlias = MoveTo | Stopped | Offer


class Follow:
    """Whom I follow, whom I followed last, and the pending offer."""

    def __init__(self) -> None:
        self.target: str | None = None
        self.last_target: str | None = None
        self.offer: Offer | None = None
        self._files: dict[str, str | None] = {}

    def start(self, me: str | None, target: str, members: Mapping[str, p.Member]) -> str | None:
        """Follow ``target``; the refusal to show when that cannot be, else ``None``."""
        person = members.get(target)
        if person is None:
            return "they are no longer in the room"
        if target == me:
            return "you cannot follow yourself"
        if me is not None and _reaches(target, me, members):
            return f"{person.name} is following you; following each other would go round in circles"
        self.target = target
        self.last_target = target
        self.offer = None
        return None

    def stop(self) -> str | None:
        """Stop following; whom we followed (to name in the notice), if anyone."""
        stopped, self.target = self.target, None
        return stopped

    def members_changed(
        self, me: str | None, members: Mapping[str, p.Member], my_file: str | None
    ) -> list[FollowEffect]:
        """What presence changes mean for me: a move to copy, a stop, or an offer."""
        effects: list[FollowEffect] = []
        if self.target is not None:
            effects.extend(self._follow_target(me, members))
        else:
            effects.extend(self._offers(me, members, my_file))
        self._files = {member_id: m.file for member_id, m in members.items()}
        return effects

    def summoned(
        self, member: str, file: str, cursor: int, members: Mapping[str, p.Member]
    ) -> Offer:
        person = members.get(member)
        self.offer = Offer(member, person.name if person else "Someone", file, cursor, "summon")
        return self.offer

    def take_offer(self) -> Offer | None:
        offer, self.offer = self.offer, None
        return offer

    def _follow_target(self, me: str | None, members: Mapping[str, p.Member]) -> list[FollowEffect]:
        assert self.target is not None
        person = members.get(self.target)
        if person is None:
            self.target = None
            return [Stopped("they left the room")]
        if me is not None and _reaches(self.target, me, members) and me > self.target:
            self.target = None
            return [Stopped(f"{person.name} started following you at the same moment")]
        if person.file is None:
            return []
        return [MoveTo(person.member, person.file, person.cursor or 0, person.viewport)]

    def _offers(
        self, me: str | None, members: Mapping[str, p.Member], my_file: str | None
    ) -> list[FollowEffect]:
        effects: list[FollowEffect] = []
        for member_id, person in members.items():
            if member_id == me or person.file is None or person.file == my_file:
                continue
            if member_id in self._files and self._files[member_id] != person.file:
                self.offer = Offer(member_id, person.name, person.file, person.cursor or 0, "moved")
                effects.append(self.offer)
        return effects


def _reaches(start: str, goal: str, members: Mapping[str, p.Member]) -> bool:
    """Whether following the chain of "follows" from ``start`` arrives at ``goal``."""
    seen: set[str] = set()
    current: str | None = start
    while current is not None and current not in seen:
        seen.add(current)
        person = members.get(current)
        current = person.following if person is not None else None
        if current == goal:
            return True
    return False
