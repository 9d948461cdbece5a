"""Flood control: a token bucket that says how long to pause before the next line.

Every non-empty line a client sends takes one token. The bucket holds `burst` tokens and
refills at `rate` tokens a second. When it is empty the reader does not drop the line: it
sleeps until a token is due, and while it sleeps it does not read, so TCP back-pressure
slows the sender down and nothing is lost.

Pure arithmetic: the caller passes in the time, which keeps it testable without a clock.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class FloodPolicy:
    """`burst` lines at once, then `rate` lines a second."""

    burst: int
    rate: float

    @classmethod
    def parse(cls, text: str) -> FloodPolicy | None:
        """Parse `BURST/RATE` (e.g. `10/5`), or `off` for no flood control (None)."""
        if text.strip().lower() == "off":
            return None
        burst_text, slash, rate_text = text.partition("/")
        if not slash:
            raise ValueError(f"expected BURST/RATE or off, got {text!r}")
        burst, rate = int(burst_text), float(rate_text)
        if burst < 1 or not 0 < rate < math.inf:  # `not` also catches nan
            raise ValueError("BURST must be at least 1 and RATE a number above 0")
        return cls(burst, rate)


class TokenBucket:
    """One client's allowance of lines under a `FloodPolicy`."""

    __slots__ = ("policy", "_tokens", "_updated")

    def __init__(self, policy: FloodPolicy, now: float) -> None:
        self.policy = policy
        self._tokens = float(policy.burst)
        self._updated = now

    def delay_for_next_line(self, now: float) -> float:
        """Take a token for one line; return how many seconds to wait before handling it."""
        policy = self.policy
        elapsed = max(0.0, now - self._updated)
        self._tokens = min(float(policy.burst), self._tokens + elapsed * policy.rate)
        self._updated = now
        self._tokens -= 1
        if self._tokens >= 0:
            return 0.0
        return -self._tokens / policy.rate
