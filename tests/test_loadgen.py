"""``pair bench`` against a real relay on port 0: it converges, loses nothing, writes JSON."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from pairtui.loadgen import CLOSE, OPEN, _inside_marker, _outside
from server.relay import Relay
from tests.server.conftest import relay_url


async def test_a_short_bench_run_converges_and_writes_json(relay: Relay, tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pairtui.cli", "bench",
        "--server", relay_url(relay),
        "--rooms", "4", "--campers-per-room", "3",
        "--rate", "20", "--duration", "3", "--warmup", "0.5", "--seed", "7",
        "--json", str(out),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, stderr = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode == 0, stderr.decode()[-3000:]
    data = json.loads(out.read_text())
    assert data["campers"] == 12 and data["rooms"] == 4 and data["seed"] == 7
    assert data["ops"] > 100 and data["ops_per_second"] > 50
    latency = data["latency_ms"]
    assert 0 < latency["p50"] <= latency["p99"] <= latency["max"]
    assert data["latency_samples"] >= data["ops"]  # every keystroke reached two partners
    assert data["errors"] == 0 and data["converged"] is True
    assert data["lost_edits"] == 0 and data["duplicated_edits"] == 0
    assert "keystroke to peer p99" in stderr.decode()
    rooms = [name for name in await relay.store.room_names() if name.startswith("bench-")]
    assert len(rooms) == 4
    texts = []
    for name in rooms:
        record = await relay.store.load_room(name, history=10)
        assert record is not None
        texts.append(record.files[0].text)
    assert any(OPEN in text for text in texts)  # pastes with their markers were stored


@given(st.lists(st.tuples(st.integers(0, 5), st.integers(1, 4)), max_size=6), st.integers(0, 60))
def test_campers_never_type_inside_a_marker(markers: list[tuple[int, int]], where: int) -> None:
    text = ""
    for index, (gap, size) in enumerate(markers):
        text += "x" * gap + f"{OPEN}c{index}.{size}{CLOSE}"
    position = _outside(text, min(where, len(text)))
    assert not _inside_marker(text, position)
    assert 0 <= position <= len(text)
    assert position >= min(where, len(text))  # it only ever moves forward, past a marker
