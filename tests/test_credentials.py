"""Secrets in the OS keyring, or in a 0600 file only where there is no keyring."""

from __future__ import annotations

import stat
from pathlib import Path

import keyring.backend
import keyring.backends.fail
import keyring.errors

from pairtui.credentials import Credentials, StoredKey, service_for

SERVER = "ws://127.0.0.1:8765/"


class MemoryKeyring(keyring.backend.KeyringBackend):
    """An in-memory keyring backend: the real ``keyring`` API over a dict."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.entries: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self.entries.pop((service, username), None) is None:
            raise keyring.errors.PasswordDeleteError(username)


class BrokenKeyring(MemoryKeyring):
    def get_password(self, service: str, username: str) -> str | None:
        raise keyring.errors.KeyringLocked("the keyring is locked")

    def set_password(self, service: str, username: str, password: str) -> None:
        raise keyring.errors.KeyringLocked("the keyring is locked")


def test_keys_and_tokens_live_in_the_keyring(tmp_path: Path) -> None:
    backend = MemoryKeyring()
    told: list[str] = []
    credentials = Credentials(backend, tmp_path / "credentials.json", told.append)
    credentials.set_room_key(SERVER, "demo", "k" * 32, "write")
    credentials.set_room_key(SERVER, "other", "o" * 32)
    credentials.set_token(SERVER, "t" * 32)
    assert credentials.room_key(SERVER, "demo") == StoredKey("k" * 32, "write")
    assert credentials.room_key(SERVER, "other") == StoredKey("o" * 32, "unknown")
    assert credentials.room_key("ws://elsewhere:1/", "demo") is None
    assert credentials.token(SERVER) == "t" * 32
    assert (service_for(SERVER), "room:demo") in backend.entries
    assert not (tmp_path / "credentials.json").exists() and told == []
    assert credentials.forget_server(SERVER) == 4  # token, two keys, the index
    assert backend.entries == {}
    assert credentials.room_key(SERVER, "demo") is None and credentials.token(SERVER) is None


def test_without_a_keyring_a_private_file_is_used_and_said_once(tmp_path: Path) -> None:
    told: list[str] = []
    path = tmp_path / "config" / "credentials.json"
    credentials = Credentials(keyring.backends.fail.Keyring(), path, told.append)
    assert credentials.uses_file
    credentials.set_room_key(SERVER, "demo", "k" * 32, "read")
    credentials.set_token(SERVER, "t" * 32)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(told) == 1 and "no OS keyring" in told[0] and str(path) in told[0]
    again = Credentials(keyring.backends.fail.Keyring(), path, told.append)
    assert again.room_key(SERVER, "demo") == StoredKey("k" * 32, "read")
    assert len(told) == 1
    assert again.forget_server(SERVER) == 3
    assert again.token(SERVER) is None


def test_a_file_readable_by_others_is_made_private(tmp_path: Path) -> None:
    path = tmp_path / "credentials.json"
    told: list[str] = []
    credentials = Credentials(keyring.backends.fail.Keyring(), path, told.append)
    credentials.set_token(SERVER, "t" * 32)
    path.chmod(0o644)
    assert credentials.token(SERVER) == "t" * 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and "now private" in told[-1]


def test_a_failing_keyring_falls_back_to_the_file(tmp_path: Path) -> None:
    told: list[str] = []
    path = tmp_path / "credentials.json"
    credentials = Credentials(BrokenKeyring(), path, told.append)
    credentials.set_token(SERVER, "t" * 32)
    assert credentials.token(SERVER) == "t" * 32
    assert path.exists() and "keyring failed" in told[0]
