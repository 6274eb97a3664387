"""Load the real editing traces in ``../shared/traces`` for benchmarks and tests.

The traces come from the public editing-traces data set (Joseph Gentle and
contributors, CC BY 4.0; automerge-paper prepared by Martin Kleppmann).
Set ``PAIRTUI_TRACES`` to read them from another folder.
"""

from __future__ import annotations

import gzip
import json
import os
from dataclasses import dataclass
from pathlib import Path

SEQUENTIAL = ("automerge-paper", "seph-blog1", "rustcode", "sveltecomponent")
CONCURRENT = ("concurrent-friendsforever", "concurrent-clownschool")

Patch = tuple[int, int, str]


@dataclass(frozen=True)
class SequentialTrace:
    """One person's keystrokes: patches applied in order turn start into end."""

    name: str
    start: str
    end: str
    patches: list[Patch]


def traces_dir() -> Path | None:
    """Where the traces are, or ``None`` when this checkout has none beside it."""
    configured = os.environ.get("PAIRTUI_TRACES")
    candidates = [Path(configured)] if configured else []
    candidates.append(Path(__file__).resolve().parent.parent.parent / "shared" / "traces")
    return next((path for path in candidates if (path / "README.md").exists()), None)


def load_sequential(name: str) -> SequentialTrace:
    """Read one sequential trace, flattening its transactions into patches."""
    folder = traces_dir()
    if folder is None:
        raise FileNotFoundError("no traces found: set PAIRTUI_TRACES to the traces folder")
    with gzip.open(folder / f"{name}.json.gz", "rt", encoding="utf-8") as handle:
        data = json.load(handle)
    patches = [
        (int(position), int(deleted), str(inserted))
        for txn in data["txns"]
        for position, deleted, inserted in txn["patches"]
    ]
    return SequentialTrace(name, data.get("startContent", ""), data["endContent"], patches)


def replay_by_slicing(trace: SequentialTrace) -> str:
    """The baseline: apply every patch with plain string slicing."""
    text = trace.start
    for position, deleted, inserted in trace.patches:
        text = text[:position] + inserted + text[position + deleted :]
    return text
