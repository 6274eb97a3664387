"""Audio devices made of files: a WAV (or array) as the microphone, a recorder as the speaker.

A headless client, the voice tests and the latency benchmark use these in
place of a sound card. The input is paced by the clock, 20 ms a frame, as a
microphone would deliver it, so that the call downstream behaves as it
does with a person talking.
"""

from __future__ import annotations

import asyncio
import wave
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pairtui.voice.audio import SAMPLE_RATE, Samples, frame_samples, mono
from pairtui.voice.devices import AudioInput, AudioOutput, DeviceError, FrameSink


def read_wav(path: Path) -> tuple[Samples, int]:
    """A 16-bit WAV file's samples as mono, and its rate."""
    try:
        with wave.open(str(path), "rb") as reader:
            if reader.getsampwidth() != 2:
                raise DeviceError(f"{path}: pairtui reads 16-bit WAV files only")
            channels, rate = reader.getnchannels(), reader.getframerate()
            data = np.frombuffer(reader.readframes(reader.getnframes()), dtype="<i2")
    except (OSError, wave.Error, EOFError) as error:
        raise DeviceError(f"cannot read {path}: {error}") from None
    return mono(data.astype(np.int16), channels), rate


def write_wav(path: Path, samples: Samples, rate: int = SAMPLE_RATE) -> None:
    with wave.open(str(path), "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        writer.writeframes(samples.astype("<i2").tobytes())


class PacedInput:
    """Plays ``samples`` into the call in real time; silence after the end unless ``loop``.

    A chain of loop timers rather than a task: ``close`` cancels the next
    one and nothing of the input is left running when it returns.
    """

    def __init__(self, samples: Samples, rate: int, on_frame: FrameSink, loop: bool) -> None:
        self.rate = rate
        self.samples = samples
        self.loop = loop
        self._on_frame = on_frame
        self._step = frame_samples(rate)
        self._sent = 0
        self._event_loop = asyncio.get_running_loop()
        self.started_at = self._event_loop.time()
        """Loop time when the first sample went out (the latency benchmark's zero)."""
        self._timer: asyncio.Handle | None = self._event_loop.call_soon(self._tick)

    @property
    def closed(self) -> bool:
        return self._timer is None

    def _tick(self) -> None:
        at = self._sent % self.samples.size if self.loop and self.samples.size else self._sent
        chunk = self.samples[at : at + self._step]
        if chunk.size < self._step:
            chunk = np.concatenate([chunk, np.zeros(self._step - chunk.size, dtype=np.int16)])
        self._sent += self._step
        self._timer = self._event_loop.call_at(self.started_at + self._sent / self.rate, self._tick)
        self._on_frame(chunk)

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


@dataclass
class Recorder:
    """The speaker of a headless client: keeps what each partner sent, with arrival times."""

    rate: int = SAMPLE_RATE
    chunks: dict[str, list[tuple[float, Samples]]] = field(default_factory=dict)
    closed: bool = False

    def play(self, source: str, samples: Samples) -> None:
        """Called on the event loop; times are its clock, as ``PacedInput.started_at`` is."""
        arrived = asyncio.get_running_loop().time()
        self.chunks.setdefault(source, []).append((arrived, samples))

    def forget(self, source: str) -> None:
        """Keep the recording: a test reads it after the partner has gone."""

    def close(self) -> None:
        self.closed = True

    def recording(self, source: str) -> Samples:
        parts = [samples for _, samples in self.chunks.get(source, [])]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int16)


class FileDevices:
    """``AudioDevices`` from a WAV file or an array, recording what is heard."""

    def __init__(
        self,
        samples: Samples,
        rate: int = SAMPLE_RATE,
        *,
        loop: bool = True,
        recorder: Recorder | None = None,
    ) -> None:
        self.samples = samples
        self.rate = rate
        self.loop = loop
        self.recorder = recorder or Recorder()
        self.inputs: list[PacedInput] = []

    @classmethod
    def from_wav(cls, path: Path, *, loop: bool = True) -> FileDevices:
        samples, rate = read_wav(path)
        return cls(samples, rate, loop=loop)

    def open_input(self, on_frame: FrameSink) -> AudioInput:
        opened = PacedInput(self.samples, self.rate, on_frame, self.loop)
        self.inputs.append(opened)
        return opened

    def open_output(self) -> AudioOutput:
        self.recorder.closed = False
        return self.recorder
