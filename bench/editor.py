"""Editor responsiveness: keystroke cost on a 20,000-line file, and keystroke-to-partner latency.

1. A 20,000-line Python file is open in the real app (headless, run_test), on
   a real session to a relay in this process. For keystrokes at the top,
   middle and end of the file, the time to handle one keystroke is measured:
   the edit, the op through the sync engine, highlighting and rendering every
   visible line. Budget: p99 <= 16 ms (one frame at 60 Hz).
2. Two apps on one relay: the time from a key handled in one app to the
   change applied in the other's editor, p50 and p99.

    python -m bench.editor [--keys 300] [--json bench/results/editor.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from textual.geometry import Region

from pairtui.client import ClientSession, FileChanged, SessionEvent
from pairtui.ui.app import PairApp
from pairtui.ui.editor import PairEditor
from server.relay import Relay, RelayConfig
from server.store.sqlite import SQLiteStore

BLOCK = '''class Account:
    """A bank account with a running balance."""

    def __init__(self, owner: str, balance: float = 0.0) -> None:
        self.owner = owner
        self.balance = balance  # starting balance

    def deposit(self, amount: float) -> float:
        if amount <= 0:
            raise ValueError(f"deposit must be positive, got {amount!r}")
        self.balance += amount
        return self.balance

'''


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def summary(samples: list[float]) -> dict[str, float]:
    return {
        "p50_ms": statistics.median(samples) * 1000,
        "p99_ms": percentile(samples, 0.99) * 1000,
        "max_ms": max(samples) * 1000,
        "n": len(samples),
    }


async def wait(condition: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("benchmark setup timed out")
        await asyncio.sleep(0.01)


def keystroke(editor: PairEditor, index: int) -> float:
    """Type one character at ``index`` and render the visible lines; seconds taken."""
    started = time.perf_counter()
    location = editor._location(index)
    editor.selection = editor.selection.cursor(location)
    editor.insert("x", location)
    width, height = editor.size
    editor.render_lines(Region(0, 0, width, height))
    return time.perf_counter() - started


async def large_file(url: str, keys: int) -> dict[str, Any]:
    lines = (BLOCK * (20_000 // BLOCK.count("\n") + 1)).split("\n")[:20_000]
    text = "\n".join(lines)
    session = ClientSession(url, "bench-editor", "ada")
    app = PairApp(session)
    results: dict[str, Any] = {}
    async with app.run_test(size=(120, 40)) as pilot:
        await wait(lambda: app.current_file is not None)
        editor = app.editor
        editor.insert(text, (0, 0))  # one paste of the whole file
        await session.wait_synced(timeout=30)
        await pilot.pause()
        for where, row in (("top", 10), ("middle", 10_000), ("end", 19_990)):
            editor.scroll_to(0, max(0, row - 20), animate=False)
            await pilot.pause()
            index = editor._line_offset(row) + 8
            samples = []
            for n in range(keys):
                samples.append(keystroke(editor, index + n))
                if n % 20 == 0:
                    await pilot.pause()  # let acks and refreshes happen, as between keys
            results[where] = summary(samples)
        await session.wait_synced(timeout=30)
        results["lines"] = editor.document.line_count
    return results


async def partner_latency(url: str, keys: int) -> dict[str, float]:
    ada = PairApp(ClientSession(url, "bench-latency", "ada"))
    bob = PairApp(ClientSession(url, "bench-latency", "bob"))
    arrived: list[float] = []

    def on_bob(event: SessionEvent) -> None:
        if isinstance(event, FileChanged):
            arrived.append(time.perf_counter())

    samples: list[float] = []
    async with ada.run_test(size=(100, 30)) as ada_pilot, bob.run_test(size=(100, 30)):
        await wait(lambda: ada.current_file is not None and bob.current_file is not None)
        bob.session.subscribe(on_bob)
        for n in range(keys):
            arrived.clear()
            sent = time.perf_counter()
            ada.editor.insert("k", ada.editor.selection.end)
            await wait(lambda: bool(arrived), timeout=5)
            samples.append(arrived[0] - sent)
            if n % 50 == 0:
                await ada_pilot.pause()
            await asyncio.sleep(0.005)
        assert bob.editor.text_now == ada.editor.text_now
    return summary(samples)


async def run(keys: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        store = await SQLiteStore.open(Path(folder))
        relay = Relay(store, RelayConfig(port=0))
        await relay.start()
        url = f"ws://127.0.0.1:{relay.port}/"
        try:
            return {
                "keystroke": await large_file(url, keys),
                "partner_latency": await partner_latency(url, keys),
            }
        finally:
            await relay.shutdown()
            await store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=300)
    parser.add_argument("--json", type=Path, default=Path("bench/results/editor.json"))
    args = parser.parse_args()
    console = Console()
    with console.status("typing into a 20,000-line file, then between two apps"):
        results = asyncio.run(run(args.keys))
    table = Table(title="Editor (ms)")
    for column in ("measure", "p50", "p99", "max", "keys"):
        table.add_column(column, justify="right" if column != "measure" else "left")
    for where in ("top", "middle", "end"):
        row = results["keystroke"][where]
        table.add_row(
            f"keystroke at {where} of {results['keystroke']['lines']:,} lines",
            f"{row['p50_ms']:.2f}",
            f"{row['p99_ms']:.2f}",
            f"{row['max_ms']:.2f}",
            str(row["n"]),
        )
    latency = results["partner_latency"]
    table.add_row(
        "keystroke to partner's editor",
        f"{latency['p50_ms']:.2f}",
        f"{latency['p99_ms']:.2f}",
        f"{latency['max_ms']:.2f}",
        str(latency["n"]),
    )
    console.print(table)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"benchmark": "editor", **results}, indent=2))
    console.print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
