"""Who may do what: room keys checked against stored hashes, admin tokens, and the
brakes on guessing either. No I/O here.

Keys are checked against both stored hashes in constant time (``hmac``), so
the time an answer takes says nothing about which key, if any, was close.
Guessing is slowed per address: every failure delays the answer more, and
too many failures in a window lock that address out for a while; other
addresses, and rooms, are unaffected. With 192-bit keys guessing cannot
succeed anyway; the brakes keep it from costing the relay.
"""

from __future__ import annotations

import hmac
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from pairtui.core import protocol as p
from pairtui.core.keys import hash_secret, new_secret, read_key_for
from server.store.records import KeyHashes


def new_keys() -> tuple[str, KeyHashes]:
    """A fresh write key and the hashes of it and its read-only key, to store."""
    write = new_secret()
    return write, KeyHashes(hash_secret(write), hash_secret(read_key_for(write)))


def role_for(hashes: KeyHashes, key: str | None) -> p.Role | None:
    """The role a key gives in a room with ``hashes``, or ``None`` for a wrong or missing key."""
    given = hash_secret(key or "")
    is_write = hmac.compare_digest(given, hashes.write)
    is_read = hmac.compare_digest(given, hashes.read)  # both compared: same time either way
    if key and is_write:
        return "write"
    if key and is_read:
        return "read"
    return None


def decide_role(hashes: KeyHashes | None, key: str | None, require_keys: bool) -> p.Role | None:
    """What a join with ``key`` may do in a room with ``hashes`` (``None``: refuse it).

    A room without keys is open: joined without a key, to write, unless the relay
    requires keys. Every process that admits anyone, or runs the room, asks this.
    """
    if hashes is not None:
        return role_for(hashes, key)
    if key is None and not require_keys:
        return "write"
    return None


class TokensFileError(Exception):
    """The tokens file cannot be read; the message names it and the problem."""


class AdminTokens:
    """The tokens that may create rooms; none means anyone may create (keyed) rooms."""

    def __init__(self, tokens: list[str] | None = None, hashes: list[str] | None = None) -> None:
        self._hashes = [hash_secret(token) for token in tokens or [] if token]
        self._hashes += list(hashes or [])

    @classmethod
    def from_file(cls, path: Path) -> AdminTokens:
        """Read a tokens file: one ``sha256:HEX`` (or a plain token) a line, ``#`` comments."""
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError as error:
            raise TokensFileError(f"cannot read {path}: {error.strerror or error}") from None
        hashes: list[str] = []
        for number, raw in enumerate(lines, 1):
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            if line.startswith("sha256:"):
                digest = line.removeprefix("sha256:").lower()
                if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
                    raise TokensFileError(f"{path}:{number}: sha256: takes 64 hex digits")
                hashes.append(digest)
            else:
                hashes.append(hash_secret(line))
        if not hashes:
            raise TokensFileError(f"{path} holds no token; add one with 'pair new-token {path}'")
        return cls(hashes=hashes)

    @property
    def required(self) -> bool:
        return bool(self._hashes)

    def allows(self, token: str | None) -> bool:
        given = hash_secret(token or "")
        matches = [hmac.compare_digest(given, known) for known in self._hashes]
        return bool(token) and any(matches)


@dataclass(frozen=True)
class Brakes:
    """How hard guessing is: a delay that doubles per failure, and a lockout."""

    first_delay: float = 0.25
    max_delay: float = 4.0
    window: float = 60.0
    max_failures: int = 10
    lockout: float = 300.0


@dataclass
class _Failures:
    times: deque[float] = field(default_factory=deque)
    locked_until: float = 0.0


class FailedAttempts:
    """Failed keys and tokens per address, deciding delays and lockouts."""

    def __init__(self, brakes: Brakes | None = None, max_addresses: int = 100_000) -> None:
        self.brakes = brakes or Brakes()
        self._by_address: dict[str, _Failures] = {}
        self._max_addresses = max_addresses

    def locked_for(self, address: str, now: float) -> float:
        """Seconds this address must still wait before trying again (0 if it may try)."""
        failures = self._by_address.get(address)
        return 0.0 if failures is None else max(0.0, failures.locked_until - now)

    def failed(self, address: str, now: float) -> float:
        """Record a failure; the delay to wait before answering it."""
        if address not in self._by_address and len(self._by_address) >= self._max_addresses:
            self._forget_oldest()
        failures = self._by_address.setdefault(address, _Failures())
        brakes = self.brakes
        while failures.times and failures.times[0] < now - brakes.window:
            failures.times.popleft()
        failures.times.append(now)
        if len(failures.times) >= brakes.max_failures:
            failures.locked_until = now + brakes.lockout
        count = len(failures.times)
        return float(min(brakes.max_delay, brakes.first_delay * 2.0 ** (count - 1)))

    def succeeded(self, address: str) -> None:
        """A right key: past failures from this address no longer count."""
        failures = self._by_address.get(address)
        if failures is not None and failures.locked_until == 0.0:
            del self._by_address[address]

    def _forget_oldest(self) -> None:
        oldest = min(
            self._by_address,
            key=lambda a: self._by_address[a].times[-1] if self._by_address[a].times else 0.0,
        )
        del self._by_address[oldest]
