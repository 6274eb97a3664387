"""Where pairtui keeps things on this machine (platformdirs decides per OS)."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP = "pairtui"


def data_dir() -> Path:
    """The user data directory; ``PAIRTUI_DATA_DIR`` overrides it (tests, several profiles)."""
    override = os.environ.get("PAIRTUI_DATA_DIR")
    return Path(override) if override else platformdirs.user_data_path(APP)


def config_dir() -> Path:
    """The user config directory; ``PAIRTUI_CONFIG_DIR`` overrides it."""
    override = os.environ.get("PAIRTUI_CONFIG_DIR")
    return Path(override) if override else platformdirs.user_config_path(APP)


def relay_data_dir() -> Path:
    """Where an embedded or local relay keeps its database."""
    return data_dir() / "relay"
