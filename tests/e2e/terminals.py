"""Real terminals for end-to-end tests: ``pair join`` in tmux windows, read as people see them."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

PAIR = [sys.executable, "-m", "pairtui.cli"]


class Terminals:
    def __init__(self, root: Path, port: int) -> None:
        self.root = root
        self.port = port
        self.socket = str(root / "tmux.sock")

    def tmux(self, *args: str) -> str:
        done = subprocess.run(
            ["tmux", "-S", self.socket, *args], capture_output=True, text=True, check=True
        )
        return done.stdout

    def open(self, name: str, *command: str, env: dict[str, str] | None = None) -> None:
        env = {
            "PAIRTUI_DATA_DIR": str(self.root / f"data-{name}"),
            "PAIRTUI_CONFIG_DIR": str(self.root / "config"),
            "PAIRTUI_PORT": str(self.port),
            "TERM": "xterm-256color",
            **(env or {}),
        }
        exports = " ".join(f"{key}={value}" for key, value in env.items())
        line = f"cd {os.getcwd()} && env {exports} {' '.join(command)}; sleep 60"
        if name == "ada":
            self.tmux("new-session", "-d", "-s", "pair", "-n", name, "-x", "100", "-y", "24", line)
        else:
            self.tmux("new-window", "-t", "pair", "-n", name, line)
            self.tmux("resize-window", "-t", f"pair:{name}", "-x", "100", "-y", "24")

    def screen(self, name: str) -> str:
        return self.tmux("capture-pane", "-p", "-t", f"pair:{name}")

    def type(self, name: str, *keys: str) -> None:
        self.tmux("send-keys", "-t", f"pair:{name}", *keys)

    def wait_for(self, name: str, text: str, timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen(name)
            if text in screen:
                return screen
            time.sleep(0.1)
        raise AssertionError(f"{text!r} never appeared on {name}'s screen:\n{screen}")
