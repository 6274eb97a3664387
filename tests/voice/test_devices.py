"""The sound card side, through the real PortAudio: opening, hearing, releasing, and errors.

This machine has no sound card, so the devices are ALSA's own ``file``
plugin: capture reads a raw file, playback writes one, both through
PortAudio exactly as a headset would be. Each case runs in a fresh Python
because PortAudio reads the ALSA configuration once, when it starts.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from pairtui.voice.devices import PA_DEVICE_UNAVAILABLE, PA_INVALID_DEVICE, describe_device_error

ROOT = Path(__file__).resolve().parents[2]

ASOUNDRC = """
pcm.!default {{
  type file
  slave.pcm "null"
  file "{playback}"
  infile "{capture}"
  format "raw"
}}
"""

OPEN_AND_RELEASE = textwrap.dedent(
    """
    import asyncio, json, os, time
    from pairtui.voice.devices import SoundDevices, list_devices

    def native_threads():
        return len(os.listdir("/proc/self/task"))

    async def main():
        frames = []
        before = native_threads()
        devices = SoundDevices()
        speaker = devices.open_output()
        microphone = devices.open_input(frames.append)
        speaker.play("bob", frames[0] if frames else __import__("numpy").zeros(960, "int16"))
        deadline = time.monotonic() + 5
        while len(frames) < 10 and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        during = native_threads()
        microphone.close()
        speaker.close()
        after = native_threads()
        print(json.dumps({
            "devices": [d.name for d in list_devices()],
            "rate": microphone.rate,
            "frames": len(frames),
            "frame_size": len(frames[0]) if frames else 0,
            "peak": int(max(abs(int(x)) for x in frames[2])) if len(frames) > 2 else 0,
            "before": before, "during": during, "after": after,
        }))

    asyncio.run(main())
    """
)

NO_DEVICE = textwrap.dedent(
    """
    import asyncio, json
    from pairtui.voice.devices import DeviceError, SoundDevices, list_devices

    async def main():
        found = [d.name for d in list_devices()]
        messages = []
        for open_one in (SoundDevices().open_input, SoundDevices("no such mic").open_input):
            try:
                open_one(lambda samples: None)
            except DeviceError as error:
                messages.append(str(error))
        print(json.dumps({"devices": found, "messages": messages}))

    asyncio.run(main())
    """
)


def sounddevice_or_skip() -> ModuleType:
    try:
        return importlib.import_module("sounddevice")
    except OSError:
        pytest.skip("the PortAudio library is not installed (apt install libportaudio2)")


def run_python(script: str, home: Path) -> dict[str, object]:
    sounddevice_or_skip()
    env = {**os.environ, "HOME": str(home), "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    decoded: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return decoded


def test_a_real_portaudio_device_is_heard_and_released(tmp_path: Path) -> None:
    capture = tmp_path / "capture.raw"
    t = np.arange(48_000 * 2) / 48_000
    (np.sin(2 * np.pi * 440 * t) * 8_000).astype("<i2").tofile(capture)
    playback = tmp_path / "playback.raw"
    (tmp_path / ".asoundrc").write_text(ASOUNDRC.format(playback=playback, capture=capture))

    result = run_python(OPEN_AND_RELEASE, tmp_path)

    assert result["devices"] == ["default"]
    assert result["rate"] == 48_000
    assert result["frames"] >= 10 and result["frame_size"] == 960  # 20 ms blocks
    assert 7_000 < int(result["peak"]) <= 8_000  # the capture file's tone came through
    assert int(result["during"]) > int(result["before"])  # PortAudio's threads ran ...
    assert result["after"] == result["before"]  # ... and closing joined every one of them
    assert playback.exists()  # the speaker was opened and written to


def test_no_device_and_a_wrong_name_say_what_to_do(tmp_path: Path) -> None:
    result = run_python(NO_DEVICE, tmp_path)  # no .asoundrc: ALSA's default, no sound card
    if result["devices"]:
        pytest.skip(f"this machine has sound devices: {result['devices']}")
    no_device, wrong_name = result["messages"]  # type: ignore[misc]
    assert no_device.startswith("No microphone found.") and "pair devices" in no_device
    assert wrong_name.startswith("No microphone matches 'no such mic'")


def test_portaudio_errors_become_advice() -> None:
    sounddevice = sounddevice_or_skip()
    busy = sounddevice.PortAudioError("Error opening InputStream", PA_DEVICE_UNAVAILABLE)
    assert "busy or not allowed" in describe_device_error(busy, "input", None)
    assert "Privacy & Security > Microphone" in describe_device_error(busy, "input", None)
    missing = sounddevice.PortAudioError("Error querying device -1", PA_INVALID_DEVICE)
    assert describe_device_error(missing, "output", None).startswith("No speaker found.")
    other = sounddevice.PortAudioError("Sample format not supported", -9994)
    assert describe_device_error(other, "input", 3) == (
        "Cannot open the microphone: Sample format not supported."
    )
