"""Mouth-to-ear latency of a voice call over loopback: a click train, timed at the other end.

A fresh ``pair serve`` (SQLite, loopback) signals the call; ``--people``
headless members join it. The first one's microphone plays a click every
``--interval`` seconds in real time; each other member's speaker records
with arrival times. A click's latency is the moment its sound reaches the
listener's speaker queue minus the moment it left the talker's microphone
queue: encoding, SRTP over UDP, the jitter buffer, decoding and resampling.
Not included, because no sound card is involved: the microphone's own
20 ms block and the speaker's playout buffer (pairtui keeps 40 ms before
it starts a partner, plus the device's latency).

Each run measures four calls in one session: with pairtui's jitter buffer
and with aiortc's own, each on a clean line and with ``--loss`` of the
packets dropped on arrival (seeded), so the two compare on the same machine
at the same moment.

    python -m bench.voice_latency [--clicks 40] [--people 2] [--loss 0.02] [--json FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import statistics
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from aiortc.rtcrtpreceiver import RTCRtpReceiver
from rich.console import Console

from bench.load import sqlite_relay
from pairtui.client import ClientSession
from pairtui.voice import jitter
from pairtui.voice.audio import SAMPLE_RATE, Samples
from pairtui.voice.call import VoiceCall
from pairtui.voice.wav import FileDevices, PacedInput, Recorder

CLICK_SECONDS = 0.005
LEAD_IN = 1.0  # seconds of silence before the first click: the call settles first
THRESHOLD = 3_000  # a click peaks near 16,000; Opus's silence stays under 100


def click_train(clicks: int, interval: float) -> tuple[Samples, list[int]]:
    """Silence with a short 1 kHz burst every ``interval``; the bursts' first samples."""
    total = int((LEAD_IN + clicks * interval + 1.0) * SAMPLE_RATE)
    samples = np.zeros(total, dtype=np.int16)
    t = np.arange(int(CLICK_SECONDS * SAMPLE_RATE)) / SAMPLE_RATE
    burst = (np.sin(2 * np.pi * 1_000 * t) * 16_000).astype(np.int16)
    starts = [int((LEAD_IN + k * interval) * SAMPLE_RATE) for k in range(clicks)]
    for start in starts:
        samples[start : start + burst.size] = burst
    return samples, starts


def onsets(chunks: list[tuple[float, Samples]], gap: float) -> list[float]:
    """When each click was handed to the speaker: its chunk's arrival plus its place in it."""
    found: list[float] = []
    quiet_since = -1.0
    for arrived, samples in chunks:
        loud = np.flatnonzero(np.abs(samples.astype(np.int32)) > THRESHOLD)
        if loud.size == 0:
            continue
        at = arrived + float(loud[0]) / SAMPLE_RATE
        if not found or at - quiet_since > gap:
            found.append(at)
        quiet_since = arrived + float(loud[-1]) / SAMPLE_RATE
    return found


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


@contextlib.contextmanager
def line(buffer: str, loss: float, seed: int) -> Iterator[None]:
    """Calls made inside use ``buffer`` ("pairtui" or "aiortc") and lose ``loss`` of packets."""
    rng = random.Random(seed)
    handle = RTCRtpReceiver._handle_rtp_packet
    install = jitter.install

    async def lossy(receiver: RTCRtpReceiver, packet: Any, arrival_time_ms: int) -> None:
        if rng.random() >= loss:
            await handle(receiver, packet, arrival_time_ms)

    RTCRtpReceiver._handle_rtp_packet = lossy  # type: ignore[method-assign,assignment]
    if buffer == "aiortc":
        jitter.install = lambda receiver, depth=0: False
    try:
        yield
    finally:
        RTCRtpReceiver._handle_rtp_packet = handle  # type: ignore[method-assign]
        jitter.install = install


async def measure(
    url: str, room: str, clicks: int, interval: float, people: int
) -> dict[str, object]:
    console = Console(stderr=True)
    train, starts = click_train(clicks, interval)
    sessions = [ClientSession(url, room, f"p{n}") for n in range(people)]
    devices = [FileDevices(train, loop=False)] + [
        FileDevices(np.zeros(SAMPLE_RATE, dtype=np.int16), recorder=Recorder())
        for _ in range(people - 1)
    ]
    calls = [VoiceCall(s, d) for s, d in zip(sessions, devices, strict=True)]
    for session in sessions:
        await session.start()
    for call in calls[1:]:
        await call.join()
    await asyncio.sleep(0.5)
    await calls[0].join()  # the talker joins last: its first click comes after the lead-in
    talker_id = sessions[0].member or ""
    duration = LEAD_IN + clicks * interval + 1.5
    with console.status(f"{clicks} clicks, {people} people, {duration:.0f} s"):
        await asyncio.sleep(duration)
    talker_input = devices[0].inputs[-1]
    assert isinstance(talker_input, PacedInput)
    sent = [talker_input.started_at + start / SAMPLE_RATE for start in starts]
    latencies: list[float] = []
    missed = 0
    for listener in devices[1:]:
        heard = onsets(listener.recorder.chunks.get(talker_id, []), gap=interval / 2)
        for when in sent:
            match = next((h for h in heard if 0 <= h - when < interval * 0.9), None)
            if match is None:
                missed += 1
            else:
                latencies.append((match - when) * 1000)
    for call in calls:
        await call.close()
    for session in sessions:
        await session.close()
    if not latencies:
        raise SystemExit("no click was heard: is the call connecting at all?")
    latencies.sort()
    return {
        "people": people,
        "clicks_sent": clicks * (people - 1),
        "clicks_heard": len(latencies),
        "missed": missed,
        "p50_ms": statistics.median(latencies),
        "p90_ms": percentile(latencies, 90),
        "p99_ms": percentile(latencies, 99),
        "min_ms": min(latencies),
        "max_ms": max(latencies),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clicks", type=int, default=40)
    parser.add_argument("--interval", type=float, default=0.5, help="seconds between clicks")
    parser.add_argument("--people", type=int, default=2, choices=[2, 3, 4])
    parser.add_argument("--loss", type=float, default=0.02, help="share of packets lost")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    print(f"seed {args.seed}")
    results = []
    with sqlite_relay() as (url, _pid):
        for number, (buffer, loss) in enumerate(
            [("pairtui", 0.0), ("aiortc", 0.0), ("pairtui", args.loss), ("aiortc", args.loss)]
        ):
            with line(buffer, loss, args.seed):
                room = f"voice-bench-{number}"
                result = asyncio.run(measure(url, room, args.clicks, args.interval, args.people))
            result |= {"jitter_buffer": buffer, "loss": loss}
            results.append(result)
            print(
                f"{buffer:>7} buffer, {loss:4.0%} loss, {result['people']} people: "
                f"p50 {result['p50_ms']:6.1f} ms  p90 {result['p90_ms']:6.1f}  "
                f"p99 {result['p99_ms']:6.1f}  max {result['max_ms']:6.1f}; "
                f"{result['clicks_heard']}/{result['clicks_sent']} clicks heard"
            )
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"seed": args.seed, "runs": results}, indent=2) + "\n")


if __name__ == "__main__":
    main()
