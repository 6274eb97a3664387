"""Plain audio arithmetic on int16 mono samples: levels and mixing.

No devices and no network here, so that the parts a person hears (the
level meter, the mix of several partners) are tested on exact numbers.
"""

from __future__ import annotations

import threading
from collections import deque

import numpy as np
from numpy.typing import NDArray

from pairtui.voice import SPEAKING_LEVEL

SAMPLE_RATE = 48_000
"""Opus runs at 48 kHz; devices that cannot are resampled to and from it."""
FRAME_SECONDS = 0.020
FRAME_SAMPLES = int(SAMPLE_RATE * FRAME_SECONDS)
SILENCE_DBFS = -60.0
"""Quieter than this shows as no level at all."""

Samples = NDArray[np.int16]


def frame_samples(rate: int) -> int:
    """Samples in one 20 ms frame at ``rate``."""
    return int(rate * FRAME_SECONDS)


def dbfs(samples: Samples) -> float:
    """Loudness of ``samples`` (RMS) in dB below full scale; ``SILENCE_DBFS`` at most quiet."""
    if samples.size == 0:
        return SILENCE_DBFS
    rms = float(np.sqrt(np.mean(np.square(samples.astype(np.float64)))))
    if rms <= 0.0:
        return SILENCE_DBFS
    return max(SILENCE_DBFS, 20.0 * float(np.log10(rms / 32768.0)))


class LevelMeter:
    """A speaking-level indicator: jumps up with the voice, falls back smoothly.

    Rising at once and falling by ``decay`` a frame is how a meter reads
    as "speaking now" without flickering between words.
    """

    def __init__(self, decay: float = 0.85) -> None:
        self.decay = decay
        self.level = 0.0
        self.silent_frames = 0
        """Frames in a row that were digital zero: a muted or blocked microphone."""

    def update(self, samples: Samples) -> float:
        current = 1.0 - dbfs(samples) / SILENCE_DBFS  # 0 at -60 dBFS, 1 at full scale
        self.level = max(current, self.level * self.decay)
        self.silent_frames = self.silent_frames + 1 if not samples.any() else 0
        return self.level

    @property
    def speaking(self) -> bool:
        return self.level >= SPEAKING_LEVEL


def mono(samples: NDArray[np.int16], channels: int) -> Samples:
    """Interleaved ``channels``-channel int16 as mono (the mean of the channels)."""
    if channels == 1:
        return samples.reshape(-1)
    mixed = samples.reshape(-1, channels).astype(np.int32).mean(axis=1)
    return np.asarray(mixed, dtype=np.int16)


class Mixer:
    """Several partners' audio summed into one stream for a speaker.

    Partners ``push`` from the event loop while the sound card's thread
    ``pull``s, hence the lock. Each partner's buffer is capped: after a
    stall, old audio is dropped rather than played late, which would put
    everyone's words behind for the rest of the call.
    """

    def __init__(self, rate: int = SAMPLE_RATE, max_delay: float = 0.2, prefetch: float = 0.04):
        self._lock = threading.Lock()
        self._buffers: dict[str, deque[Samples]] = {}
        self._buffered: dict[str, int] = {}
        self._playing: set[str] = set()
        self.max_samples = int(rate * max_delay)
        self.prefetch_samples = int(rate * prefetch)
        self.dropped = 0

    def push(self, source: str, samples: Samples) -> None:
        with self._lock:
            buffer = self._buffers.setdefault(source, deque())
            buffer.append(samples)
            self._buffered[source] = self._buffered.get(source, 0) + samples.size
            while self._buffered[source] > self.max_samples and len(buffer) > 1:
                self._buffered[source] -= buffer.popleft().size
                self.dropped += 1
            if self._buffered[source] >= self.prefetch_samples:
                self._playing.add(source)

    def pull(self, count: int) -> Samples:
        """The next ``count`` samples of the mix; silence where nobody has audio yet."""
        mix = np.zeros(count, dtype=np.int32)
        with self._lock:
            for source in list(self._playing):
                mix += self._take(source, count)
        return np.clip(mix, -32768, 32767).astype(np.int16)

    def drop(self, source: str) -> None:
        with self._lock:
            self._buffers.pop(source, None)
            self._buffered.pop(source, None)
            self._playing.discard(source)

    def _take(self, source: str, count: int) -> NDArray[np.int32]:
        out = np.zeros(count, dtype=np.int32)
        buffer = self._buffers[source]
        filled = 0
        while filled < count and buffer:
            chunk = buffer[0]
            used = min(count - filled, chunk.size)
            out[filled : filled + used] = chunk[:used]
            filled += used
            if used == chunk.size:
                buffer.popleft()
            else:
                buffer[0] = chunk[used:]
        self._buffered[source] -= filled
        if filled < count:
            self._playing.discard(source)  # ran dry: wait for a little audio before resuming
        return out
