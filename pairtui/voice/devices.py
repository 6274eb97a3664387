"""Microphones and speakers: what a voice call reads from and plays to.

``AudioDevices`` is the seam: ``SoundDevices`` opens real ones through
sounddevice (PortAudio); ``pairtui/voice/wav.py`` reads WAV files and
records instead, for headless runs, tests and benchmarks. A device that
cannot be opened raises ``DeviceError`` whose message says what to do,
because "PortAudioError -9985" helps nobody in the middle of a session.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Literal, Protocol

from pairtui.voice import PORTAUDIO_HINT, native_stderr_silenced
from pairtui.voice.audio import SAMPLE_RATE, Mixer, Samples, frame_samples

FrameSink = Callable[[Samples], None]
"""Called on the event loop with each 20 ms of microphone audio (int16 mono)."""
Kind = Literal["input", "output"]

PA_DEVICE_UNAVAILABLE = -9985
PA_INVALID_DEVICE = -9996


class DeviceError(Exception):
    """A microphone or speaker that cannot be used; the message says what to do."""


class AudioInput(Protocol):
    rate: int

    def close(self) -> None: ...


class AudioOutput(Protocol):
    rate: int

    def play(self, source: str, samples: Samples) -> None:
        """Queue ``source``'s next samples (at ``rate``) to be heard."""

    def forget(self, source: str) -> None:
        """``source`` left: drop what is still queued of them."""

    def close(self) -> None: ...


class AudioDevices(Protocol):
    """Opens the microphone and the speaker for one call."""

    def open_input(self, on_frame: FrameSink) -> AudioInput: ...

    def open_output(self) -> AudioOutput: ...


@dataclass(frozen=True)
class DeviceInfo:
    index: int
    name: str
    inputs: int
    outputs: int
    default_input: bool
    default_output: bool


def sounddevice_module() -> ModuleType:
    """Import sounddevice, turning a missing PortAudio into advice."""
    try:
        with native_stderr_silenced():
            sounddevice = importlib.import_module("sounddevice")  # it ships no type hints
    except OSError:
        raise DeviceError(PORTAUDIO_HINT) from None
    return sounddevice


def list_devices() -> list[DeviceInfo]:
    """Every audio device PortAudio sees (``pair devices`` and the voice palette list these)."""
    sd = sounddevice_module()
    default_in, default_out = _defaults(sd)
    return [
        DeviceInfo(
            index=i,
            name=str(d["name"]),
            inputs=int(d["max_input_channels"]),
            outputs=int(d["max_output_channels"]),
            default_input=i == default_in,
            default_output=i == default_out,
        )
        for i, d in enumerate(sd.query_devices())
    ]


def describe_device_error(error: BaseException, kind: Kind, device: str | int | None) -> str:
    """What a person should do about ``error`` from opening a ``kind`` device."""
    thing = "microphone" if kind == "input" else "speaker"
    code = error.args[1] if len(error.args) > 1 and isinstance(error.args[1], int) else None
    text = str(error.args[0]) if error.args else str(error)
    if isinstance(error, ValueError) and device is not None:
        return f"No {thing} matches {device!r}: run  pair devices  to see their names."
    if code == PA_DEVICE_UNAVAILABLE or "unavailable" in text.lower() or "busy" in text.lower():
        return (
            f"The {thing} is busy or not allowed. Close other apps using it; on macOS allow "
            f"your terminal in System Settings > Privacy & Security > Microphone; on Linux "
            f"check that you may use sound devices (the 'audio' group, or PipeWire running)."
        )
    if code == PA_INVALID_DEVICE or "querying device -1" in text or "no default" in text.lower():
        return (
            f"No {thing} found. Connect one or check your system's sound settings, then join "
            f"voice again;  pair devices  lists what pairtui can see."
        )
    return f"Cannot open the {thing}: {text}."


class SoundDevices:
    """The real microphone and speaker, by name (any part of it) or index; ``None``: default."""

    def __init__(self, microphone: str | int | None = None, speaker: str | int | None = None):
        self.microphone = microphone
        self.speaker = speaker

    def open_input(self, on_frame: FrameSink) -> AudioInput:
        sd = sounddevice_module()
        loop = asyncio.get_running_loop()

        def captured(indata: Any, frames: int, time: Any, status: Any) -> None:
            samples = indata[:, 0].copy()
            with contextlib.suppress(RuntimeError):  # the loop closed under a last callback
                loop.call_soon_threadsafe(on_frame, samples)

        stream = self._open(sd, "input", self.microphone, captured)
        return _Stream(stream, int(stream.samplerate))

    def open_output(self) -> AudioOutput:
        sd = sounddevice_module()
        holder: list[Mixer] = []

        def playing(outdata: Any, frames: int, time: Any, status: Any) -> None:
            outdata[:, 0] = holder[0].pull(frames) if holder else 0

        stream = self._open(sd, "output", self.speaker, playing, holder)
        return _MixedOutput(stream, holder[0])

    def _open(
        self,
        sd: ModuleType,
        kind: Kind,
        device: str | int | None,
        callback: Callable[..., None],
        mixer: list[Mixer] | None = None,
    ) -> Any:
        try:
            rate = _rate_for(sd, kind, device)
            if mixer is not None:
                mixer.append(Mixer(rate))
            stream_type = sd.InputStream if kind == "input" else sd.OutputStream
            with native_stderr_silenced():
                stream = stream_type(
                    device=device,
                    samplerate=rate,
                    channels=1,
                    dtype="int16",
                    blocksize=frame_samples(rate),
                    latency="low",
                    callback=callback,
                )
                stream.start()
        except (sd.PortAudioError, ValueError) as error:
            raise DeviceError(describe_device_error(error, kind, device)) from None
        return stream


class _Stream:
    def __init__(self, stream: Any, rate: int) -> None:
        self.stream = stream
        self.rate = rate

    def close(self) -> None:
        """Stop the stream and join PortAudio's thread: the device is free when this returns."""
        self.stream.stop()
        self.stream.close()


class _MixedOutput(_Stream):
    def __init__(self, stream: Any, mixer: Mixer) -> None:
        super().__init__(stream, int(stream.samplerate))
        self.mixer = mixer

    def play(self, source: str, samples: Samples) -> None:
        self.mixer.push(source, samples)

    def forget(self, source: str) -> None:
        self.mixer.drop(source)


def _rate_for(sd: ModuleType, kind: Kind, device: str | int | None) -> int:
    """48 kHz when the device can, else its own rate (the call resamples)."""
    check = sd.check_input_settings if kind == "input" else sd.check_output_settings
    try:
        check(device=device, samplerate=SAMPLE_RATE, channels=1, dtype="int16")
    except sd.PortAudioError:
        info = sd.query_devices(device, kind)
        return int(info["default_samplerate"])
    return SAMPLE_RATE


def _defaults(sd: ModuleType) -> tuple[int, int]:
    default_in, default_out = sd.default.device
    return (int(default_in), int(default_out))
