"""The relay's load budget, measured: ``pair bench`` against several relays in one session.

Each target is started fresh as its own process on loopback, loaded with the
same campers, and stopped:

* ``sqlite``: one ``pair serve`` process with SQLite (the budget's subject);
* ``bare``: ``bench/bare_relay.py``, the ceiling (forwarding and ordering only);
* ``redis``: ``pair serve --redis --workers 2`` on a fresh ``redis-server``.

    python -m bench.load [--targets sqlite,bare,redis] [--rooms 500] [--duration 60]
                         [--json bench/results/load.json]

It prints one table with each target's latency percentiles and the ratio of
each to the bare relay's, and writes all results as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

TARGETS = ("sqlite", "bare", "redis")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_port(port: int, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


@contextmanager
def sqlite_relay() -> Iterator[tuple[str, int]]:
    """A fresh ``pair serve`` on SQLite in a scratch directory: its URL and process id."""
    port = free_port()
    with tempfile.TemporaryDirectory() as scratch:
        relay = subprocess.Popen(
            [sys.executable, "-m", "server", "--port", str(port), "--data-dir", scratch],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_for_port(port)
            time.sleep(0.5)
            yield f"ws://127.0.0.1:{port}/", relay.pid
        finally:
            relay.terminate()
            relay.wait(30)


@contextmanager
def started(target: str, folder: Path) -> Iterator[str]:
    """Start ``target`` in ``folder``; yield its URL; stop it (and its Redis)."""
    port = free_port()
    processes: list[subprocess.Popen[bytes]] = []
    log = (folder / f"{target}.log").open("ab")
    try:
        if target == "bare":
            command = [sys.executable, "-m", "bench.bare_relay", "--port", str(port)]
        elif target == "sqlite":
            command = [
                sys.executable,
                "-m",
                "server",
                "--port",
                str(port),
                "--data-dir",
                str(folder / "relay"),
            ]
        else:
            redis_port = free_port()
            redis = shutil.which("redis-server")
            if redis is None:
                raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
            processes.append(
                subprocess.Popen(
                    [redis, "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "",
                     "--appendonly", "yes", "--appendfsync", "everysec", "--dir", str(folder)],
                    stdout=log, stderr=log,
                )
            )  # fmt: skip
            wait_for_port(redis_port)
            redis_url = f"redis://127.0.0.1:{redis_port}/0"
            command = [sys.executable, "-m", "server", "--port", str(port),
                       "--redis", redis_url, "--workers", "2"]  # fmt: skip
        processes.append(subprocess.Popen(command, stdout=log, stderr=log))
        wait_for_port(port)
        if target != "bare":
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5).close()
        time.sleep(1.0 if target == "redis" else 0.2)  # both workers listening
        yield f"ws://127.0.0.1:{port}/"
    finally:
        for process in reversed(processes):
            process.terminate()
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()


def run_bench(url: str, args: argparse.Namespace, out: Path) -> dict[str, Any]:
    command = [
        sys.executable, "-m", "pairtui.cli", "bench", "--server", url,
        "--rooms", str(args.rooms), "--campers-per-room", str(args.campers_per_room),
        "--rate", str(args.rate), "--duration", str(args.duration), "--warmup", str(args.warmup),
        "--seed", str(args.seed), "--json", str(out),
    ]  # fmt: skip
    bound = args.duration + args.warmup + 300
    subprocess.run(command, timeout=bound, check=False, stdout=subprocess.DEVNULL)
    result: dict[str, Any] = json.loads(out.read_text())
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description="pair bench against several relays")
    parser.add_argument("--targets", default=",".join(TARGETS))
    parser.add_argument("--rooms", type=int, default=500)
    parser.add_argument("--campers-per-room", type=int, default=2)
    parser.add_argument("--rate", type=float, default=6.0)
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path, default=Path("bench/results/load.json"))
    args = parser.parse_args()
    console = Console(width=150)
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as scratch:
        for target in args.targets.split(","):
            folder = Path(scratch) / target
            folder.mkdir()
            campers = args.rooms * args.campers_per_room
            console.print(f"[b]{target}[/b]: {campers} campers, {args.duration:g} s")
            with started(target, folder) as url:
                results[target] = run_bench(url, args, folder / "bench.json")
    table = Table(title="keystroke to peer (ms)")
    for column in ("target", "keystrokes/s", "p50", "p90", "p99", "p99.9", "max", "p99 ÷ bare",
                   "errors", "converged", "lost", "doubled"):  # fmt: skip
        table.add_column(column, justify="right")
    bare_p99 = results.get("bare", {}).get("latency_ms", {}).get("p99")
    for target, data in results.items():
        latency = data["latency_ms"]
        ratio = f"{latency['p99'] / bare_p99:.2f}x" if bare_p99 and latency["p99"] else "-"
        percentiles = [str(latency[k]) for k in ("p50", "p90", "p99", "p99.9", "max")]
        checks = [data["errors"], data["converged"], data["lost_edits"], data["duplicated_edits"]]
        table.add_row(
            target, f"{data['ops_per_second']:,.0f}", *percentiles, ratio, *map(str, checks)
        )
    console.print(table)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    machine = {"cpus": os.cpu_count(), "python": sys.version.split()[0]}
    args.json.write_text(json.dumps({"machine": machine, "results": results}, indent=2) + "\n")
    console.print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
