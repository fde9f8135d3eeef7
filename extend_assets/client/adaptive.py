"""Adaptive client-side rate limiting: many clients on one account converge to its limit.

Every process (run worker, sensor) holds its own client, and none of them knows how
many others share the account. Each learns it from Extend's 429s, in the scheme of the
AWS SDKs' adaptive retry mode (a token bucket whose rate follows CUBIC):

- the client sends at most ``rate`` requests per second, evenly spaced, starting at
  its configured maximum;
- a 429 cuts the rate multiplicatively, once per round (throttles of requests sent
  within ``cooldown_seconds`` of the last cut say nothing new). The rate to settle
  around, ``w_max``, becomes what the account actually granted us over the last
  ``goodput_window`` seconds (our share of it), kept within ``[beta, 1]`` times the
  current rate; the rate drops to ``beta * w_max``;
- it then recovers along a cubic curve: quickly at first, flat around ``w_max``
  (reached after ``recovery_seconds``), then probing above it, ever faster, up to the
  configured maximum.

Unlike botocore's absolute CUBIC constant, the curve is scaled by ``w_max``: a client
holding a twelfth of the account recovers over the same time as one holding all of
it, so many small clients probe as gently as one large one.

The clock is injectable (tests and simulations run without sleeping). Every wait is
bounded: the rate never falls below ``min_rate``.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

DEFAULT_BETA = 0.7
"""The share of the rate kept after a 429 (as botocore's CUBIC)."""

DEFAULT_RECOVERY_SECONDS = 10.0
"""Seconds to climb back to the rate that was last throttled."""

DEFAULT_COOLDOWN_SECONDS = 1.0
"""After a cut, 429s of requests sent within this long say nothing new (the account's
bucket is still draining the earlier excess): one cut per round."""


class AdaptiveRateLimiter:
    """A token bucket of burst one whose rate falls on 429s and recovers slowly. Thread-safe."""

    def __init__(
        self,
        max_rate: float,
        *,
        beta: float = DEFAULT_BETA,
        recovery_seconds: float = DEFAULT_RECOVERY_SECONDS,
        min_rate: float | None = None,
        goodput_window: float = 2.0,
        cooldown_seconds: float = DEFAULT_COOLDOWN_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if max_rate <= 0:
            raise ValueError(f"requests_per_second must be positive, got {max_rate}")
        if not 0 < beta < 1:
            raise ValueError(f"beta must be within (0, 1), got {beta}")
        if recovery_seconds <= 0:
            raise ValueError(f"recovery_seconds must be positive, got {recovery_seconds}")
        self.max_rate = float(max_rate)
        self.beta = beta
        self.recovery_seconds = recovery_seconds
        self.min_rate = min(self.max_rate, min_rate if min_rate is not None else 0.05)
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._w_max = self.max_rate
        self._last_cut: float | None = None  # None: never throttled, full rate
        self._next_slot = clock()
        self._started = self._next_slot
        self.goodput_window = goodput_window
        self.cooldown_seconds = cooldown_seconds
        self._successes: deque[float] = deque()
        self.throttles = 0
        self.cuts = 0

    def rate(self, now: float | None = None) -> float:
        """The rate allowed at ``now`` (default: the clock's now)."""
        with self._lock:
            return self._rate_at(self._clock() if now is None else now)

    def _rate_at(self, now: float) -> float:
        if self._last_cut is None:
            return self.max_rate
        # w_max * (1 - (1 - beta) * (1 - t/K)^3): beta * w_max right after the cut,
        # flat at w_max after K seconds, then rising above it.
        k = self.recovery_seconds
        shape = (1.0 - self.beta) * ((k - (now - self._last_cut)) / k) ** 3
        return min(self.max_rate, max(self.min_rate, self._w_max * (1.0 - shape)))

    def reserve(self) -> tuple[float, float]:
        """Reserve the next free slot: ``(seconds to wait, the slot's clock time)``."""
        with self._lock:
            now = self._clock()
            slot = max(now, self._next_slot)
            self._next_slot = slot + 1.0 / self._rate_at(slot)
        return slot - now, slot

    def acquire(self) -> float:
        """Wait for the next slot; returns its clock time (pass it to :meth:`throttled`)."""
        wait, slot = self.reserve()
        if wait > 0:
            self._sleep(wait)
        return slot

    def succeeded(self) -> None:
        """A request went through: it counts towards the goodput the account grants us."""
        with self._lock:
            now = self._clock()
            self._successes.append(now)
            self._forget(now)

    def _forget(self, now: float) -> None:
        while self._successes and self._successes[0] < now - self.goodput_window:
            self._successes.popleft()

    def _goodput(self, now: float) -> float:
        """Successes per second over the window (or since the start, if shorter)."""
        self._forget(now)
        span = max(min(self.goodput_window, now - self._started), 0.5)
        return len(self._successes) / span

    def throttled(self, sent_at: float) -> bool:
        """A request sent at ``sent_at`` got a 429: cut the rate, once per round.

        Returns True when the rate was cut (False: the request left before the last cut).
        """
        with self._lock:
            self.throttles += 1
            if self._last_cut is not None and sent_at < self._last_cut + self.cooldown_seconds:
                return False
            now = self._clock()
            current = self._rate_at(now)
            # The rate to settle around: what the account actually granted us lately
            # (our share of it), but no less than one multiplicative step down.
            granted = max(self._goodput(now), self.beta * current)
            self._w_max = max(self.min_rate, min(current, granted))
            self._last_cut = now
            self.cuts += 1
            # The next slot moves out to the new, slower spacing.
            self._next_slot = max(self._next_slot, now + 1.0 / self._rate_at(now))
            return True
