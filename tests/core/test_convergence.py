"""Three clients and a relay document converge under any delivery order and fault.

Thousands of seeded random schedules: random interleaving of connections,
disconnects that lose ops and acks, resends, and a relay that forgets old
history (so clients must rebase onto snapshots). After draining, everyone
holds the relay's text, and every marker a client typed is there exactly
once: no edit lost, none applied twice.
"""

from __future__ import annotations

import os
import random

from tests.core.simulated_network import SimulatedRoom

SCHEDULES = int(os.environ.get("PAIRTUI_SCHEDULES", "3000"))
STEPS = 120
BASE_SEED = 1_000


def run_schedule(seed: int) -> None:
    room = SimulatedRoom(["A", "B", "C"], random.Random(seed))
    for _ in range(STEPS):
        room.step()
    room.drain()
    text = room.document.text
    for client in room.clients:
        assert client.sync.text == text, f"seed {seed}: {client.name} diverged"
        assert client.sync.server_text == text, f"seed {seed}: {client.name} server text"
        assert not client.sync.has_pending, f"seed {seed}: {client.name} still has pending edits"
        assert client.sync.revision == room.document.revision, f"seed {seed}"
        for marker in client.markers:
            count = text.count(marker)
            assert count == 1, f"seed {seed}: {marker} appears {count} times in {text!r}"
    for error in room.errors:
        assert error.code == "history_unavailable", f"seed {seed}: unexpected {error}"


def test_random_schedules_converge_without_loss_or_duplication() -> None:
    seeds = range(BASE_SEED, BASE_SEED + SCHEDULES)
    print(f"seeds {seeds.start}..{seeds.stop - 1}")
    failed: list[tuple[int, str]] = []
    for seed in seeds:
        try:
            run_schedule(seed)
        except AssertionError as error:
            failed.append((seed, str(error)))
    assert not failed, f"{len(failed)} schedules failed; first: seed {failed[0][0]}: {failed[0][1]}"


def test_a_known_schedule_actually_exercises_faults() -> None:
    """Guard against a harness that never disconnects or resends."""
    disconnects = snapshots = duplicates = 0
    for seed in range(BASE_SEED, BASE_SEED + 200):
        room = SimulatedRoom(["A", "B", "C"], random.Random(seed))
        for _ in range(STEPS):
            before = [c.connected for c in room.clients]
            room.step()
            disconnects += sum(
                b and not c.connected for b, c in zip(before, room.clients, strict=True)
            )
        room.drain()
        snapshots += room.snapshots
        duplicates += room.duplicates
    assert disconnects > 100
    assert snapshots > 0
    assert duplicates > 0
