"""The user's settings: ``config.toml`` in the user config directory.

```toml
[join]
server = "wss://pair.example.org/"   # default relay for 'pair join'
name = "Ada"                         # default display name

[voice]
microphone = "USB"                   # any part of a name 'pair devices' lists
speaker = "Headphones"
push_to_talk = true                  # F7 held talks; muted otherwise
stun = ["stun:stun.example.org:3478"]
```

Nothing secret belongs here: room keys live in the OS keyring, and TURN
credentials come from the relay (``pair serve --turn``).
"""

from __future__ import annotations

import getpass
import tomllib
from dataclasses import dataclass
from pathlib import Path

from pairtui.core import protocol as p
from pairtui.dirs import config_dir

CONFIG_NAME = "config.toml"


class ConfigError(Exception):
    """The config file cannot be read; the message names the file and the problem."""


@dataclass(frozen=True)
class JoinSettings:
    server: str | None
    name: str


@dataclass(frozen=True)
class VoiceSettings:
    microphone: str | None = None
    speaker: str | None = None
    push_to_talk: bool = False
    ice_servers: tuple[p.IceServer, ...] = ()
    """Our own STUN servers; the relay adds its STUN and TURN servers to these."""


def config_path() -> Path:
    return config_dir() / CONFIG_NAME


def _table(path: Path | None, name: str) -> tuple[Path, dict[str, object]]:
    path = path or config_path()
    data: dict[str, object] = {}
    if path.exists():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as error:
            raise ConfigError(f"{path}: {error}") from None
    table = data.get(name, {})
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [{name}] must be a table")
    return path, table


def load_voice_settings(path: Path | None = None) -> VoiceSettings:
    """The ``[voice]`` settings: devices, push-to-talk, STUN servers."""
    path, voice = _table(path, "voice")
    for key in ("microphone", "speaker"):
        if voice.get(key) is not None and not isinstance(voice[key], str):
            raise ConfigError(f"{path}: voice.{key} must be a string (part of a device name)")
    push_to_talk = voice.get("push_to_talk", False)
    if not isinstance(push_to_talk, bool):
        raise ConfigError(f"{path}: voice.push_to_talk must be true or false")
    stun = voice.get("stun", [])
    if not isinstance(stun, list) or not all(
        isinstance(url, str) and url.startswith(("stun:", "stuns:")) for url in stun
    ):
        raise ConfigError(f"{path}: voice.stun must be a list of URLs like 'stun:host:3478'")
    microphone, speaker = voice.get("microphone"), voice.get("speaker")
    return VoiceSettings(
        microphone=microphone if isinstance(microphone, str) else None,
        speaker=speaker if isinstance(speaker, str) else None,
        push_to_talk=push_to_talk,
        ice_servers=(p.IceServer(urls=list(stun)),) if stun else (),
    )


def load_join_settings(path: Path | None = None) -> JoinSettings:
    """The ``[join]`` settings, with the login name as the default name."""
    path, join = _table(path, "join")
    server = join.get("server")
    name = join.get("name")
    if server is not None and not isinstance(server, str):
        raise ConfigError(f"{path}: join.server must be a string like 'ws://host:8765/'")
    if name is not None and not isinstance(name, str):
        raise ConfigError(f"{path}: join.name must be a string")
    return JoinSettings(server=server, name=name or _login_name())


def _login_name() -> str:
    try:
        return getpass.getuser()[:64] or "me"
    except (KeyError, OSError):
        return "me"
