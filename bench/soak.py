"""A bounded soak: rooms created, used and abandoned while campers come and go.

A fresh ``pair serve`` runs for ``--minutes``. Every second new campers join
(some into rooms in use, most into new ones), type for a few seconds and
leave, so rooms keep being created, loaded, emptied and unloaded. Every
``--every`` seconds the relay's resident memory, open asyncio tasks, loaded
rooms and connections are sampled. Budget: flat; after the first fifth of
the run the numbers must not keep climbing (y-websocket leaked documents
this way: its issues #100 and #145).

    python -m bench.soak [--minutes 30] [--json bench/results/soak.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import time
import urllib.request
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.idle import resident_kib
from bench.load import sqlite_relay
from pairtui.client import Backoff, ClientSession


async def camper(url: str, room: str, seconds: float, rng: random.Random) -> int:
    session = ClientSession(url, room, f"c{rng.randrange(10**6)}", backoff=Backoff(0.2, 2.0))
    try:
        await asyncio.wait_for(session.start(), 10)
        file = session.files[0].file
        await session.open(file)
        typed = 0
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            text = session.syncs[file].text
            session.replace(file, rng.randint(0, len(text)), 0, rng.choice("abc \n"))
            typed += 1
            await asyncio.sleep(rng.expovariate(6.0))
        await session.wait_synced(timeout=10)
        return typed
    finally:
        await session.close()


def sample(url: str, pid: int, began: float) -> dict[str, Any]:
    with urllib.request.urlopen(url.replace("ws://", "http://") + "healthz", timeout=5) as reply:
        health = json.loads(reply.read())
    return {
        "t": round(time.monotonic() - began, 1),
        "rss_kib": resident_kib(pid),
        "tasks": health["tasks"],
        "rooms": health["rooms"],
        "connections": health["connections"],
    }


async def soak(url: str, pid: int, minutes: float, every: float, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    began = time.monotonic()
    stop = began + minutes * 60
    samples: list[dict[str, Any]] = []
    running: set[asyncio.Task[int]] = set()
    next_sample = began
    room_number = 0
    console = Console(stderr=True)
    with console.status("soaking") as status:
        while time.monotonic() < stop:
            for _ in range(rng.randint(2, 6)):  # a few arrive every second
                if rng.random() < 0.7:
                    room_number += 1  # most go to a new room, which is later abandoned
                    room = f"soak-{seed}-{room_number}"
                else:
                    room = (
                        f"soak-{seed}-{rng.randint(max(1, room_number - 20), max(1, room_number))}"
                    )
                task = asyncio.create_task(camper(url, room, rng.uniform(2, 8), rng))
                running.add(task)
                task.add_done_callback(running.discard)
            if time.monotonic() >= next_sample:
                samples.append(await asyncio.to_thread(sample, url, pid, began))
                status.update(f"soaking: {samples[-1]}")
                next_sample += every
            await asyncio.sleep(1.0)
        await asyncio.gather(*running, return_exceptions=True)
    await asyncio.sleep(45)  # empty rooms unload after their linger (30 s)
    samples.append(await asyncio.to_thread(sample, url, pid, began))
    return samples


def verdict(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """Flat means: the last third's median is within 10% of the second third's."""
    body = samples[len(samples) // 5 : -1] or samples
    third = max(1, len(body) // 3)
    middle, last = body[third : 2 * third] or body, body[-third:]
    out: dict[str, Any] = {}
    for key in ("rss_kib", "tasks"):
        before = statistics.median(s[key] for s in middle)
        after = statistics.median(s[key] for s in last)
        out[f"{key}_growth"] = round(after / before - 1, 3) if before else 0.0
    end = samples[-1]
    out["after_everyone_left"] = {k: end[k] for k in ("rooms", "connections", "tasks")}
    out["flat"] = out["rss_kib_growth"] < 0.10 and out["tasks_growth"] < 0.10
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--every", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path, default=Path("bench/results/soak.json"))
    args = parser.parse_args()
    with sqlite_relay() as (url, pid):
        samples = asyncio.run(soak(url, pid, args.minutes, args.every, args.seed))
    result = {"minutes": args.minutes, "samples": samples, **verdict(samples)}
    table = Table(title=f"soak, {args.minutes:g} minutes")
    for column in ("t (s)", "RSS (KiB)", "tasks", "rooms", "connections"):
        table.add_column(column, justify="right")
    for row in samples[:: max(1, len(samples) // 12)] + samples[-1:]:
        table.add_row(*(str(row[k]) for k in ("t", "rss_kib", "tasks", "rooms", "connections")))
    console = Console()
    console.print(table)
    console.print({k: v for k, v in result.items() if k != "samples"})
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
