"""Two people run the real ``pair join demo`` in two terminals (tmux), nothing started by hand."""

from __future__ import annotations

import shutil
import time

import pytest

from tests.e2e.terminals import PAIR, Terminals

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


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
