"""The relay's door: who may open a connection, and how often. No I/O here.

Checked before the websocket handshake completes, so a refused client costs
one HTTP answer: a cap on open connections per address, and a token bucket
on new connections per address. Loopback addresses are exempt by default:
on the embedded relay every user is local, and behind a reverse proxy on the
same machine every client looks like 127.0.0.1 (let the proxy limit per
client there; docs/security.md shows how). Failed keys and tokens are
counted here too (``server.auth.FailedAttempts``).
"""

from __future__ import annotations

import ipaddress
from collections import OrderedDict
from dataclasses import dataclass, field

from server.auth import Brakes, FailedAttempts
from server.limits import RateLimit, TokenBucket

CONNECT_RATE = RateLimit(rate=5.0, burst=30.0, flood=1_000_000)


@dataclass(frozen=True)
class GateLimits:
    """How many connections one address may hold and open; ``pair serve`` sets these."""

    max_per_address: int = 256
    connect_rate: RateLimit = CONNECT_RATE
    exempt_loopback: bool = True
    brakes: Brakes = field(default_factory=Brakes)


def is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return address == "localhost"


class Gate:
    """Counts connections per address and decides whether one more may come in."""

    def __init__(self, limits: GateLimits | None = None, max_addresses: int = 100_000) -> None:
        self.limits = limits or GateLimits()
        self.open: dict[str, int] = {}
        self.attempts = FailedAttempts(self.limits.brakes, max_addresses)
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()
        self._max_addresses = max_addresses

    def refusal(self, address: str, now: float) -> str | None:
        """Why a new connection from ``address`` is refused now, or ``None`` to let it in."""
        limits = self.limits
        if limits.exempt_loopback and is_loopback(address):
            return None
        if self.open.get(address, 0) >= limits.max_per_address:
            return (
                f"too many connections from your address (at most {limits.max_per_address}); "
                "close some and try again"
            )
        bucket = self._buckets.get(address)
        if bucket is None:
            bucket = self._buckets[address] = TokenBucket(limits.connect_rate, now)
            if len(self._buckets) > self._max_addresses:
                self._buckets.popitem(last=False)
        self._buckets.move_to_end(address)
        if not bucket.allow(now):
            return "too many new connections from your address; wait a few seconds"
        return None

    def opened(self, address: str) -> bool:
        """Count an open connection; ``False`` if it is one too many (a race past ``refusal``)."""
        count = self.open.get(address, 0) + 1
        self.open[address] = count
        limits = self.limits
        exempt = limits.exempt_loopback and is_loopback(address)
        return exempt or count <= limits.max_per_address

    def closed(self, address: str) -> None:
        count = self.open.get(address, 0) - 1
        if count > 0:
            self.open[address] = count
        else:
            self.open.pop(address, None)
