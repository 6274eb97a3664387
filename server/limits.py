"""Per-connection rate limiting: a token bucket, plus the rule that closes a flooder."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RateLimit:
    """``rate`` messages a second on average, bursts up to ``burst``.

    A connection that keeps sending after being told to slow down, ``flood``
    refused messages in all, is a flood and gets closed.
    """

    rate: float = 100.0
    burst: float = 300.0
    flood: int = 1_000


class TokenBucket:
    """Decides, message by message, whether a connection is within its rate."""

    __slots__ = ("_tokens", "_updated", "limit", "refused")

    def __init__(self, limit: RateLimit, now: float) -> None:
        self.limit = limit
        self._tokens = limit.burst
        self._updated = now
        self.refused = 0

    def allow(self, now: float) -> bool:
        """Take a token for a message arriving at ``now``; ``False`` when there is none."""
        elapsed = max(0.0, now - self._updated)  # a wall clock may step back
        self._updated = now
        self._tokens = min(self.limit.burst, self._tokens + elapsed * self.limit.rate)
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        self.refused += 1
        return False

    @property
    def flooding(self) -> bool:
        return self.refused >= self.limit.flood
