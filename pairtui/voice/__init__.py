"""Voice: audio between the people in a room, peer to peer over WebRTC.

The relay only passes signalling (``server/voice.py``); audio goes straight
from one person's app to the other's. Everything here needs the optional
``voice`` extra (aiortc, numpy, sounddevice), so nothing outside this
package imports it at module level: the core install stays light, and
``voice_unavailable()`` tells a person exactly what to install.
"""

from __future__ import annotations

import contextlib
import importlib
import os
from collections.abc import Iterator

SPEAKING_LEVEL = 0.25
"""A level (0 to 1, from -60 dBFS to full scale) above which someone counts as speaking."""
VOICE_EXTRA = "pip install 'pairtui[voice]'"
NEEDED = ("aiortc", "av", "numpy", "sounddevice")
PORTAUDIO_HINT = (
    "Voice needs the PortAudio library: on Debian or Ubuntu run  sudo apt install libportaudio2 ,"
    " on macOS  brew install portaudio , then start pair join again."
)


def voice_unavailable() -> str | None:
    """Why voice cannot start on this install, and what to run; ``None`` when it can.

    It imports the libraries rather than looking for them, so that a broken
    install (PortAudio missing under sounddevice, say) is caught here too,
    not halfway into joining a call.
    """
    missing = []
    for module in NEEDED:
        try:
            with native_stderr_silenced():
                importlib.import_module(module)
        except ImportError:
            missing.append(module)
        except OSError:  # sounddevice is there, the PortAudio library it loads is not
            return PORTAUDIO_HINT
    if missing:
        return f"Voice needs {', '.join(missing)}: run  {VOICE_EXTRA}  and start pair join again."
    return None


@contextlib.contextmanager
def native_stderr_silenced() -> Iterator[None]:
    """Keep C libraries' chatter off the terminal while PortAudio starts or opens a device.

    ALSA and JACK print their probing ("unknown PCM", "server not running")
    straight to file descriptor 2, which is the screen the editor draws on;
    what matters of it comes back as an exception anyway.
    """
    try:
        saved = os.dup(2)
    except OSError:  # no stderr at all: nothing to protect
        yield
        return
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
