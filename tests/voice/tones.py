"""Test audio: tones and clicks to send, and the arithmetic to recognise them in a recording."""

from __future__ import annotations

import numpy as np

from pairtui.voice.audio import SAMPLE_RATE, Samples


def tone(frequency: float, seconds: float, rate: int = SAMPLE_RATE, level: float = 0.3) -> Samples:
    t = np.arange(int(seconds * rate)) / rate
    return (np.sin(2 * np.pi * frequency * t) * level * 32767).astype(np.int16)


def dominant_frequency(samples: Samples, rate: int = SAMPLE_RATE) -> float:
    """The strongest frequency in ``samples`` (a Hann window keeps the peak sharp)."""
    window = np.hanning(samples.size)
    spectrum = np.abs(np.fft.rfft(samples.astype(np.float64) * window))
    spectrum[0] = 0.0
    return float(np.fft.rfftfreq(samples.size, 1 / rate)[int(np.argmax(spectrum))])
