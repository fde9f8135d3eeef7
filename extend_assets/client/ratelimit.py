"""A thread-safe token bucket: many threads share one account's requests per second."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class RateLimiter:
    """Hands out at most ``rate`` permits per second, with bursts of ``burst`` (default 1).

    A burst of one spaces requests evenly, so no one-second window ever holds more
    than ``rate + 1`` of them: an account limit counted per second is never crossed.

    Each caller reserves the next free slot under the lock, then sleeps outside it,
    so waiting threads queue in order and the lock is never held while sleeping.
    """

    def __init__(
        self,
        rate_per_second: float,
        burst: int | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate_per_second <= 0:
            raise ValueError(f"rate_per_second must be positive, got {rate_per_second}")
        self.rate = float(rate_per_second)
        self.capacity = float(burst if burst is not None else 1)
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._tokens = self.capacity
        self._updated = clock()

    def acquire(self) -> float:
        """Take one permit, waiting as long as needed; returns the seconds waited."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.capacity, self._tokens + (now - self._updated) * self.rate)
            self._updated = now
            self._tokens -= 1.0
            wait = -self._tokens / self.rate if self._tokens < 0 else 0.0
        if wait > 0:
            self._sleep(wait)
        return wait
