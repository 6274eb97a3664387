"""Two people talk from two real terminals: F6 in `pair join`, real PortAudio, a sound server.

The machine has no sound card, so the test starts its own PulseAudio, on a
socket of its own, with a microphone and a speaker each: the microphones
carry tones (440 and 660 Hz) that ``pacat`` plays in real time. Each
``pair join`` opens them through sounddevice, PortAudio and ALSA's pulse
plugin, exactly as it would a headset. What is checked is what each person sees on screen, and what
ada's speaker plays: bob's tone.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from pairtui.voice.audio import Samples
from tests.e2e.terminals import PAIR, Terminals
from tests.voice.tones import dominant_frequency, tone

pytestmark = [
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
    pytest.mark.skipif(
        shutil.which("pulseaudio") is None or shutil.which("pacat") is None,
        reason="PulseAudio is not installed "
        "(apt install pulseaudio pulseaudio-utils libasound2-plugins)",
    ),
]

SOUND_SERVER = """
load-module module-native-protocol-unix auth-anonymous=1 socket={socket}
load-module module-null-sink sink_name=speakers_ada rate=48000
load-module module-null-sink sink_name=speakers_bob rate=48000
load-module module-null-sink sink_name=mic_ada rate=48000
load-module module-null-sink sink_name=mic_bob rate=48000
"""
RAW_PCM = ["--raw", "--format=s16le", "--rate=48000", "--channels=1"]
TONES = {"ada": 440.0, "bob": 660.0}
"""Each microphone is the monitor of a sink a tone plays into, 20 ms at a time as a real
microphone delivers (PulseAudio's own sine source comes in 2-second bursts)."""


@pytest.fixture
def sound_server(tmp_path: Path) -> Iterator[str]:
    """A private PulseAudio; yields its socket for PULSE_SERVER."""
    home = tmp_path / "pulse"
    home.mkdir()
    socket = home / "native"
    script = home / "server.pa"
    script.write_text(SOUND_SERVER.format(socket=socket))
    env = {**os.environ, "HOME": str(home), "XDG_RUNTIME_DIR": str(home)}
    command = ["pulseaudio", "-n", "--daemonize=no", "--exit-idle-time=-1", "--disallow-exit"]
    server = subprocess.Popen(
        [*command, "--use-pid-file=no", "--log-target=stderr", "-F", str(script)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(home / "log").open("w"),
    )
    players: list[subprocess.Popen[bytes]] = []
    try:
        deadline = time.monotonic() + 10
        while not socket.exists():
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"PulseAudio did not start:\n{(home / 'log').read_text()}")
            time.sleep(0.05)
        for name, frequency in TONES.items():
            players.append(play_tone(f"unix:{socket}", f"mic_{name}", frequency, home))
        yield f"unix:{socket}"
    finally:
        for player in players:
            player.terminate()
            player.wait(10)
        server.terminate()
        server.wait(10)


def play_tone(server: str, sink: str, frequency: float, folder: Path) -> subprocess.Popen[bytes]:
    raw = folder / f"{sink}.raw"
    tone(frequency, 120.0, level=0.4).astype("<i2").tofile(raw)
    return subprocess.Popen(
        ["pacat", *RAW_PCM, "--latency-msec=20", "-d", sink, str(raw)],
        env={**os.environ, "PULSE_SERVER": server},
    )


def record(server: str, source: str, seconds: float) -> Samples:
    """What a sound server's ``source`` carries for ``seconds``: 48 kHz mono int16."""
    process = subprocess.Popen(
        ["parec", *RAW_PCM, "-d", source],
        env={**os.environ, "PULSE_SERVER": server},
        stdout=subprocess.PIPE,
    )
    time.sleep(seconds)
    process.terminate()
    data, _ = process.communicate(timeout=10)
    return np.frombuffer(data[: len(data) // 2 * 2], dtype="<i2").astype(np.int16)


def wait_for_row(
    terminals: Terminals, viewer: str, person: str, check: Callable[[str], bool]
) -> None:
    """Wait until the third line of ``person``'s entry in ``viewer``'s people panel passes."""
    deadline = time.monotonic() + 10
    while True:
        screen = terminals.screen(viewer)
        start = screen.find(f"● {person}")
        lines = screen[start:].splitlines() if start >= 0 else []
        if len(lines) >= 3 and check(lines[2]):
            return
        assert time.monotonic() < deadline, f"{person}'s entry on {viewer}'s screen:\n{screen}"
        time.sleep(0.1)


def test_two_terminals_talk_mute_and_leave(terminals: Terminals, sound_server: str) -> None:
    for name in TONES:
        sound = {
            "PULSE_SERVER": sound_server,
            "PULSE_SOURCE": f"mic_{name}.monitor",
            "PULSE_SINK": f"speakers_{name}",
        }
        terminals.open(name, *PAIR, "join", "demo", "--name", name, env=sound)
        terminals.wait_for(name, "connected")
    terminals.wait_for("ada", "2 here")
    terminals.type("ada", "F2")  # the people panel (the terminal is too narrow to start with it)
    terminals.wait_for("ada", "People")

    terminals.type("ada", "F6")
    terminals.type("bob", "F6")
    terminals.wait_for("ada", "You hear bob.")
    terminals.wait_for("bob", "You hear ada.")
    terminals.wait_for("ada", "voice ▮▮")
    wait_for_row(terminals, "ada", "bob", lambda row: "voice ▮▮" in row)  # his tone lights it
    heard = record(sound_server, "speakers_ada.monitor", seconds=2.0)  # what ada's speaker plays
    assert abs(dominant_frequency(heard[-48_000:]) - TONES["bob"]) < 5.0

    terminals.type("bob", "F7")
    terminals.wait_for("bob", "voice: muted (F7 unmutes)")
    terminals.wait_for("ada", "voice muted")

    terminals.type("ada", "F6")
    terminals.wait_for("ada", "You left voice.")
    terminals.type("bob", "F2")
    terminals.wait_for("bob", "People")
    wait_for_row(terminals, "bob", "ada", lambda row: "good" in row and "voice" not in row)
    wait_for_row(terminals, "bob", "bob", lambda row: "voice muted" in row)
