"""Replay the real editing traces through TextOperation and compare with plain slicing.

For each sequential trace in ../shared/traces, in one run and interleaved so
that machine noise hits every variant alike:

* ``slicing``: ``text[:pos] + ins + text[pos + n:]`` per patch (the baseline);
* ``apply``: prebuilt whole-document ops applied one after another;
* ``build+apply``: ``TextOperation.from_edit`` then ``apply`` per patch;
* ``compose``: each op composed into a buffer, flushed every 20 edits, as a
  client's buffer is while an op is in flight.

Prints edits/s and each variant's ratio to slicing (median of the repeats)
and writes JSON. Budget: apply of automerge-paper within 1.0x of slicing.

    python -m bench.ot_trace [--repeats 5] [--json bench/results/ot_trace.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench.traces import SEQUENTIAL, SequentialTrace, load_sequential, replay_by_slicing
from pairtui.core.ot import TextOperation

BUFFER_FLUSH_EVERY = 20


def build_ops(trace: SequentialTrace) -> list[TextOperation]:
    ops = []
    length = len(trace.start)
    for position, deleted, inserted in trace.patches:
        ops.append(TextOperation.from_edit(length, position, deleted, inserted))
        length += len(inserted) - deleted
    return ops


def replay_apply(trace: SequentialTrace, ops: list[TextOperation]) -> str:
    text = trace.start
    for op in ops:
        text = op.apply(text)
    return text


def replay_build_and_apply(trace: SequentialTrace) -> str:
    text = trace.start
    from_edit = TextOperation.from_edit
    for position, deleted, inserted in trace.patches:
        text = from_edit(len(text), position, deleted, inserted).apply(text)
    return text


def replay_compose(trace: SequentialTrace, ops: list[TextOperation]) -> str:
    text = trace.start
    buffer: TextOperation | None = None
    for count, op in enumerate(ops, 1):
        buffer = op if buffer is None else buffer.compose(op)
        if count % BUFFER_FLUSH_EVERY == 0:
            text = buffer.apply(text)
            buffer = None
    return text if buffer is None else buffer.apply(text)


def timed(function: Callable[[], str], expected: str) -> float:
    started = time.perf_counter()
    result = function()
    elapsed = time.perf_counter() - started
    if result != expected:
        raise SystemExit("a replay did not reproduce the trace's end text")
    return elapsed


def measure(trace: SequentialTrace, repeats: int) -> dict[str, object]:
    ops = build_ops(trace)
    variants: dict[str, Callable[[], str]] = {
        "slicing": lambda: replay_by_slicing(trace),
        "apply": lambda: replay_apply(trace, ops),
        "build+apply": lambda: replay_build_and_apply(trace),
        "compose": lambda: replay_compose(trace, ops),
    }
    samples: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(repeats):
        for name, function in variants.items():
            samples[name].append(timed(function, trace.end))
    medians = {name: statistics.median(values) for name, values in samples.items()}
    edits = len(trace.patches)
    return {
        "trace": trace.name,
        "edits": edits,
        "final_chars": len(trace.end),
        "seconds": medians,
        "edits_per_second": {name: edits / seconds for name, seconds in medians.items()},
        "ratio_to_slicing": {
            name: seconds / medians["slicing"] for name, seconds in medians.items()
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", type=Path, default=Path("bench/results/ot_trace.json"))
    parser.add_argument("--trace", action="append", choices=SEQUENTIAL)
    args = parser.parse_args()
    console = Console(width=max(Console().width, 120))
    results = []
    for name in args.trace or SEQUENTIAL:
        with console.status(f"replaying {name} x{args.repeats}"):
            results.append(measure(load_sequential(name), args.repeats))
    table = Table(title=f"OT trace replay (median of {args.repeats})")
    table.add_column("trace")
    table.add_column("edits", justify="right")
    for variant in ("slicing", "apply", "build+apply", "compose"):
        table.add_column(f"{variant}/s", justify="right")
    table.add_column("apply÷slicing", justify="right")
    table.add_column("build÷slicing", justify="right")
    for result in results:
        rates = result["edits_per_second"]
        ratios = result["ratio_to_slicing"]
        assert isinstance(rates, dict) and isinstance(ratios, dict)
        table.add_row(
            str(result["trace"]),
            f"{result['edits']:,}",
            *(f"{rates[v]:,.0f}" for v in ("slicing", "apply", "build+apply", "compose")),
            f"{ratios['apply']:.2f}x",
            f"{ratios['build+apply']:.2f}x",
        )
    console.print(table)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"benchmark": "ot_trace", "results": results}, indent=2))
    console.print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
