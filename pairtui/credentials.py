"""Room keys and admin tokens on this machine: in the OS keyring, or a private file.

Secrets never go into config.toml, logs or process arguments. They live in
the OS keyring through ``keyring``, one service per relay
(``pairtui:ws://host:8765/``), with a username per secret (``room:demo``,
``token``). Headless machines often have no keyring backend (``keyring``
then raises ``NoKeyringError``); there the secrets go to ``credentials.json``
in the user config directory, created with mode 0600, and the person is told
once, when that file is first made.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypeAlias

import keyring
import keyring.backend
import keyring.backends.fail
import keyring.errors

from pairtui.dirs import config_dir

FALLBACK_NAME = "credentials.json"
TOKEN = "token"
INDEX = "rooms"  # the room names with a stored key (not secret), so logout can find them


KeyRole: TypeAlias = Literal["write", "read", "unknown"]


@dataclass(frozen=True)
class StoredKey:
    """A room key and what it was last seen to give (``unknown``: not yet used)."""

    key: str
    role: KeyRole


def service_for(server: str) -> str:
    return f"pairtui:{server.rstrip('/')}/"


class Credentials:
    """Read and write secrets for relays; the backend is chosen once, at first use."""

    def __init__(
        self,
        backend: keyring.backend.KeyringBackend | None = None,
        fallback: Path | None = None,
        tell: Callable[[str], None] | None = None,
    ) -> None:
        self._backend = backend
        self.fallback = fallback or config_dir() / FALLBACK_NAME
        self._tell = tell or (lambda text: None)
        self._use_file: bool | None = None

    @property
    def uses_file(self) -> bool:
        """Whether secrets go to the private file (no OS keyring here)."""
        if self._use_file is None:
            backend = self._backend or keyring.get_keyring()
            self._backend = backend
            self._use_file = isinstance(backend, keyring.backends.fail.Keyring)
        return self._use_file

    # -- what pairtui stores ------------------------------------------------------------

    def room_key(self, server: str, room: str) -> StoredKey | None:
        raw = self._get(server, f"room:{room}")
        role, _, key = (raw or "").partition(":")
        if not key or role not in ("write", "read", "unknown"):
            return None
        return StoredKey(key, role)  # type: ignore[arg-type]

    def set_room_key(self, server: str, room: str, key: str, role: KeyRole = "unknown") -> None:
        self._set(server, f"room:{room}", f"{role}:{key}")
        rooms = self._rooms(server)
        if room not in rooms:
            self._set(server, INDEX, json.dumps([*rooms, room]))

    def token(self, server: str) -> str | None:
        return self._get(server, TOKEN)

    def set_token(self, server: str, token: str) -> None:
        self._set(server, TOKEN, token)

    def forget_server(self, server: str) -> int:
        """Delete the token and every room key kept for ``server``; how many were deleted."""
        names = [TOKEN, *(f"room:{room}" for room in self._rooms(server)), INDEX]
        return sum(self._delete(server, name) for name in names)

    def _rooms(self, server: str) -> list[str]:
        raw = self._get(server, INDEX)
        try:
            rooms = json.loads(raw) if raw else []
        except ValueError:
            return []
        return [room for room in rooms if isinstance(room, str)]

    # -- the backend or the file ------------------------------------------------------------

    def _get(self, server: str, name: str) -> str | None:
        if not self.uses_file:
            try:
                assert self._backend is not None
                return self._backend.get_password(service_for(server), name)
            except keyring.errors.KeyringError as error:
                self._switch_to_file(error)
        return self._read_file().get(service_for(server), {}).get(name)

    def _set(self, server: str, name: str, secret: str) -> None:
        if not self.uses_file:
            try:
                assert self._backend is not None
                self._backend.set_password(service_for(server), name, secret)
                return
            except keyring.errors.KeyringError as error:
                self._switch_to_file(error)
        data = self._read_file()
        data.setdefault(service_for(server), {})[name] = secret
        self._write_file(data)

    def _delete(self, server: str, name: str) -> bool:
        if not self.uses_file:
            try:
                assert self._backend is not None
                self._backend.delete_password(service_for(server), name)
                return True
            except keyring.errors.PasswordDeleteError:
                return False
            except keyring.errors.KeyringError as error:
                self._switch_to_file(error)
        data = self._read_file()
        entries = data.get(service_for(server), {})
        if entries.pop(name, None) is None:
            return False
        self._write_file(data)
        return True

    def _switch_to_file(self, error: Exception) -> None:
        self._use_file = True
        self._tell(f"the OS keyring failed ({error}); using {self.fallback} instead")

    def _read_file(self) -> dict[str, dict[str, str]]:
        try:
            text = self.fallback.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        mode = stat.S_IMODE(self.fallback.stat().st_mode)
        if mode & 0o077:
            os.chmod(self.fallback, 0o600)
            self._tell(f"{self.fallback} was readable by others; it is now private (0600)")
        try:
            data = json.loads(text)
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}

    def _write_file(self, data: dict[str, dict[str, str]]) -> None:
        first = not self.fallback.exists()
        self.fallback.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.fallback.with_suffix(".tmp")
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=1, sort_keys=True)
        os.replace(temporary, self.fallback)
        if first:
            self._tell(
                f"no OS keyring is available here, so room keys are kept in {self.fallback} "
                "(readable only by you)"
            )
