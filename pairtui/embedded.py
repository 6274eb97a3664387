"""The embedded relay: ``pair join`` with no server uses one on this machine.

If nothing answers on 127.0.0.1 at the default port, a relay is started in
the background (``python -m server``), with its data in the user data
directory and its log beside it, and ``pair join`` waits until it is ready.
Two ``pair join`` started at once both end up on the one relay that won the
port: the other relay exits at once, finding the port or data dir taken.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from pairtui.dirs import relay_data_dir

DEFAULT_PORT = 8765


def default_port() -> int:
    """The embedded relay's port: 8765, or ``PAIRTUI_PORT`` (tests, several setups)."""
    return int(os.environ.get("PAIRTUI_PORT", DEFAULT_PORT))


class EmbeddedRelayError(Exception):
    """The local relay could not be started; the message says where its log is."""


def local_url(port: int) -> str:
    return f"ws://127.0.0.1:{port}/"


def relay_is_up(port: int, timeout: float = 0.5) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=timeout) as reply:
            return bool(reply.status == 200)
    except OSError:
        return False


def ensure_local_relay(
    port: int | None = None, data_dir: Path | None = None, wait: float = 15.0
) -> str:
    """The URL of a relay on this machine, starting one in the background if needed."""
    port = default_port() if port is None else port
    if relay_is_up(port):
        return local_url(port)
    data_dir = data_dir or relay_data_dir()
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir / "relay.log"
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "server", "--port", str(port), "--data-dir", str(data_dir)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,  # keeps running after this terminal closes
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if relay_is_up(port):
            return local_url(port)
        if process.poll() is not None and not relay_is_up(port):
            time.sleep(0.2)  # another 'pair join' may be starting one right now
            if relay_is_up(port):
                return local_url(port)
            if time.monotonic() > deadline - wait / 2:
                break
        time.sleep(0.05)
    raise EmbeddedRelayError(
        f"could not start a local relay on 127.0.0.1:{port}; see {log_path}, "
        f"or run 'pair serve' yourself and pass --server"
    )
