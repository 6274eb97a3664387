"""Unique markers that people type, and the check every survival scenario ends with.

Each marker is typed between two others (never inside one), and OT keeps
each insert whole, so after any faults every marker typed must be in the
final text exactly once: missing means an edit was lost, twice means one was
applied twice.
"""

from __future__ import annotations

import asyncio
import random

from pairtui.client import ClientSession


def between_markers(text: str, rng: random.Random) -> int:
    """A place to type that splits no marker."""
    return rng.choice([0, *(i + 1 for i, char in enumerate(text) if char == ">")])


class Typist:
    """One person typing markers ``<name-N>`` into one file, and remembering them."""

    def __init__(self, session: ClientSession, file: str, rng: random.Random) -> None:
        self.session = session
        self.file = file
        self.rng = rng
        self.typed: list[str] = []

    def type_one(self) -> None:
        marker = f"<{self.session.name}-{len(self.typed)}>"
        text = self.session.syncs[self.file].text
        self.session.replace(self.file, between_markers(text, self.rng), 0, marker)
        self.typed.append(marker)

    async def type_for(self, count: int, pause: float = 0.01) -> None:
        for _ in range(count):
            self.type_one()
            await asyncio.sleep(pause)


async def settle(typists: list[Typist], seed: int, timeout: float = 30.0) -> str:
    """Wait until every edit is stored and everyone has the same text; return it."""
    for typist in typists:
        await typist.session.wait_synced(timeout=timeout)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while len({t.session.syncs[t.file].text for t in typists}) > 1:
        if loop.time() > deadline:
            raise AssertionError(f"seed {seed}: the texts did not converge")
        await asyncio.sleep(0.02)
    return typists[0].session.syncs[typists[0].file].text


def assert_each_once(text: str, typists: list[Typist], seed: int) -> None:
    for typist in typists:
        for marker in typist.typed:
            count = text.count(marker)
            assert count == 1, f"seed {seed}: {marker} is there {count} times"
