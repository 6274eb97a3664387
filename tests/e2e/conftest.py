"""The ``terminals`` fixture: a private tmux server, and the relays it started, gone afterwards."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.terminals import Terminals
from tests.server.relay_process import free_port


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
