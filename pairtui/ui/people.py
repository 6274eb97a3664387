"""What the people panel says about each person, computed without widgets.

Typing or idle is judged by when this app last saw the person change text
(their ops, or the relay's ``active_at`` moving), on this machine's clock, so
clocks that disagree between machines do not matter. Connection quality is
the round trip each person's own app measured to the relay and put in its
presence.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from pairtui.core import protocol as p

TYPING_SECONDS = 3.0
GOOD_RTT_MS = 100
FAIR_RTT_MS = 300


@dataclass(frozen=True)
class PersonRow:
    member: str
    name: str
    color: str
    is_me: bool
    where: str  # "ex/01.py:12", "ex/01.py" or "no file open"
    activity: str  # "typing", "idle"
    role: str  # "can write", "read-only"
    quality: str  # "good 12 ms", "fair 180 ms", "poor 900 ms", "unknown"
    quality_level: str  # "good", "fair", "poor", "unknown": the panel colours it
    following: str | None  # the name of whom they follow
    voice: str | None = None  # "on", "muted", or None: not in the call
    level: float = 0.0  # how loud they are right now, 0 to 1, as heard here


def describe_people(
    members: Mapping[str, p.Member],
    me: str | None,
    path_of: Callable[[str], str],
    line_of: Callable[[str, int], int | None],
    last_active: Mapping[str, float],
    now: float,
    levels: Mapping[str, float] | None = None,
) -> list[PersonRow]:
    """One row per person, me first, then by name; ``levels``: speaking levels heard here."""
    levels = levels or {}
    rows = [
        _row(member, member.member == me, members, path_of, line_of, last_active, now, levels)
        for member in members.values()
    ]
    return sorted(rows, key=lambda row: (not row.is_me, row.name.lower(), row.member))


LEVEL_CELLS = 5


def level_bar(level: float) -> str:
    """A speaking-level meter in five cells: nothing lit is silence."""
    lit = max(0, min(LEVEL_CELLS, round(level * LEVEL_CELLS)))
    return "▮" * lit + "▯" * (LEVEL_CELLS - lit)


def quality_of(rtt_ms: int | None) -> tuple[str, str]:
    """A person's connection quality as a word and the level it is coloured by."""
    if rtt_ms is None:
        return "unknown", "unknown"
    if rtt_ms <= GOOD_RTT_MS:
        return f"good {rtt_ms} ms", "good"
    if rtt_ms <= FAIR_RTT_MS:
        return f"fair {rtt_ms} ms", "fair"
    return f"poor {rtt_ms} ms", "poor"


def _row(
    member: p.Member,
    is_me: bool,
    members: Mapping[str, p.Member],
    path_of: Callable[[str], str],
    line_of: Callable[[str, int], int | None],
    last_active: Mapping[str, float],
    now: float,
    levels: Mapping[str, float],
) -> PersonRow:
    if member.file is None:
        where = "no file open"
    else:
        where = path_of(member.file)
        line = line_of(member.file, member.cursor) if member.cursor is not None else None
        if line is not None:
            where = f"{where}:{line}"
    typing = now - last_active.get(member.member, float("-inf")) < TYPING_SECONDS
    quality, level = quality_of(member.rtt)
    followed = members.get(member.following) if member.following else None
    return PersonRow(
        member=member.member,
        name=member.name,
        color=member.color,
        is_me=is_me,
        where=where,
        activity="typing" if typing else "idle",
        role="can write" if member.role == "write" else "read-only",
        quality=quality,
        quality_level=level,
        following=followed.name if followed else None,
        voice=member.voice,
        level=levels.get(member.member, 0.0) if member.voice == "on" else 0.0,
    )
