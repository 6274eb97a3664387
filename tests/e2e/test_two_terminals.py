"""Two people run the real ``pair join demo`` in two terminals (tmux), nothing started by hand."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.server.relay_process import free_port

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
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

    def open(self, name: str, *command: str) -> None:
        env = {
            "PAIRTUI_DATA_DIR": str(self.root / f"data-{name}"),
            "PAIRTUI_CONFIG_DIR": str(self.root / "config"),
            "PAIRTUI_PORT": str(self.port),
            "TERM": "xterm-256color",
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


@pytest.fixture
def terminals(tmp_path: Path) -> Iterator[Terminals]:
    terms = Terminals(tmp_path, free_port())
    yield terms
    subprocess.run(["tmux", "-S", terms.socket, "kill-server"], capture_output=True)
    for lock in tmp_path.glob("data-*/relay/relay.lock"):  # the embedded relay started itself
        pid = lock.read_text().strip()
        if pid.isdigit():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid), signal.SIGTERM)


def test_two_terminals_pair_on_an_embedded_relay(terminals: Terminals) -> None:
    terminals.open("ada", *PAIR, "join", "demo", "--name", "ada")
    terminals.wait_for("ada", "connected")
    terminals.open("bob", *PAIR, "join", "demo", "--name", "bob")
    terminals.wait_for("bob", "connected")
    terminals.type("ada", "print('hello from ada')", "Enter")
    screen = terminals.wait_for("bob", "print('hello from ada')")
    assert "main.py" in screen
    terminals.wait_for("bob", "2 here")
    terminals.type("bob", "Down")
    time.sleep(0.5)  # at a person's pace: a loaded machine may split the escape sequence
    terminals.type("bob", "# and bob")
    terminals.wait_for("ada", "# and bob")
    relay_log = next(terminals.root.glob("data-*/relay/relay.log"))
    assert "relay ready" in relay_log.read_text()  # pair join started the relay itself
