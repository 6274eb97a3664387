"""The access commands as a person runs them: new-token, login, invite, join by link, logout."""

from __future__ import annotations

import argparse
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pairtui.cli import build_parser
from pairtui.client import ClientSession, SessionClosed
from pairtui.core.keys import parse_invite
from server.serve import ConfigError, config_from
from tests.server.relay_process import RelayProcess, free_port


def pair(*args: str, env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pairtui.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


@pytest.fixture
def home(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "PAIRTUI_CONFIG_DIR": str(tmp_path / "config"),
        "PAIRTUI_DATA_DIR": str(tmp_path / "data"),
        "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",  # as on a headless machine
    }


@pytest.fixture
def keyed_relay(tmp_path: Path, home: dict[str, str]) -> Iterator[tuple[RelayProcess, str]]:
    tokens = tmp_path / "tokens.txt"
    made = pair("new-token", str(tokens), "--label", "camp staff", env=home)
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    assert token not in tokens.read_text() and "sha256:" in tokens.read_text()
    assert stat.S_IMODE(tokens.stat().st_mode) == 0o600
    relay = RelayProcess(tmp_path / "relay", free_port(), ("--tokens-file", str(tokens)))
    relay.start()
    yield relay, token
    relay.stop()


async def test_invite_creates_keys_and_links_give_their_roles(
    keyed_relay: tuple[RelayProcess, str], home: dict[str, str], tmp_path: Path
) -> None:
    relay, token = keyed_relay
    refused = pair("invite", "camp", "--server", relay.url, env=home)
    assert refused.returncode == 1 and "pair login" in refused.stderr
    login = pair("login", "--server", relay.url, env=home, stdin=token + "\n")
    assert login.returncode == 0, login.stderr
    stored = tmp_path / "config" / "credentials.json"
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    assert "no OS keyring" in login.stderr  # said once, when the file is made
    write = pair("invite", "camp", "--server", relay.url, env=home)
    assert write.returncode == 0, write.stderr
    read = pair("invite", "camp", "--server", relay.url, "--read-only", env=home)
    again = pair("invite", "camp", "--server", relay.url, env=home)
    assert again.stdout == write.stdout  # the stored key, not a new room
    assert "no OS keyring" not in again.stderr
    write_invite, read_invite = parse_invite(write.stdout), parse_invite(read.stdout)
    assert write_invite.server == relay.url and write_invite.room == "camp"
    assert write_invite.key and write_invite.key in stored.read_text()
    assert read_invite.key != write_invite.key
    for invite, role in ((write_invite, "write"), (read_invite, "read")):
        session = ClientSession(invite.server, invite.room, role, key=invite.key)
        await session.start()
        assert session.role == role
        await session.close()
    stranger = ClientSession(relay.url, "camp", "eve")
    with pytest.raises(SessionClosed, match="bad_key"):
        await stranger.start()
    await stranger.close()
    logout = pair("logout", "--server", relay.url, env=home)
    assert logout.returncode == 0 and "Removed 3" in logout.stdout
    assert write_invite.key not in stored.read_text()


def test_a_relay_off_loopback_needs_keys_unless_told_open(tmp_path: Path) -> None:
    parser = build_parser()

    def config(*args: str) -> argparse.Namespace:
        return parser.parse_args(["serve", *args])

    assert not config_from(config()).require_keys  # 127.0.0.1: the embedded default
    assert config_from(config("--host", "0.0.0.0")).require_keys
    assert not config_from(config("--host", "0.0.0.0", "--open")).require_keys
    assert config_from(config("--host", "::")).require_keys
    assert config_from(config("--require-keys")).require_keys  # behind a reverse proxy
    with pytest.raises(ConfigError, match="contradict"):
        config_from(config("--open", "--require-keys"))
    with pytest.raises(ConfigError, match="cannot read"):
        config_from(config("--tokens-file", str(tmp_path / "missing.txt")))


def test_join_refuses_a_bad_link_clearly(home: dict[str, str]) -> None:
    result = pair("join", "pairtui+ws://127.0.0.1:1/demo#short", env=home)
    assert result.returncode == 2 and "damaged" in result.stderr
