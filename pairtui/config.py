"""The user's settings: ``config.toml`` in the user config directory.

```toml
[join]
server = "wss://pair.example.org/"   # default relay for 'pair join'
name = "Ada"                         # default display name
```

Nothing secret belongs here: room keys live in the OS keyring.
"""

from __future__ import annotations

import getpass
import tomllib
from dataclasses import dataclass
from pathlib import Path

from pairtui.dirs import config_dir

CONFIG_NAME = "config.toml"


class ConfigError(Exception):
    """The config file cannot be read; the message names the file and the problem."""


@dataclass(frozen=True)
class JoinSettings:
    server: str | None
    name: str


def config_path() -> Path:
    return config_dir() / CONFIG_NAME


def load_join_settings(path: Path | None = None) -> JoinSettings:
    """The ``[join]`` settings, with the login name as the default name."""
    path = path or config_path()
    data: dict[str, object] = {}
    if path.exists():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as error:
            raise ConfigError(f"{path}: {error}") from None
    join = data.get("join", {})
    if not isinstance(join, dict):
        raise ConfigError(f"{path}: [join] must be a table")
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
