"""How long to wait between polls of a run: the official SDK 1.20 schedule.

Every ``fast_interval`` s (±``jitter``) for the first ``fast_duration`` s; then
``initial_delay * multiplier^n`` capped at ``max_delay`` (±``jitter``), where ``n`` is
estimated from the time spent in the backoff phase, as ``extend_ai.wrapper.polling``
does. The last sleep is clipped to what is left of ``max_wait``.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from extend_assets.client.errors import WaitTimeoutError

T = TypeVar("T")


@dataclass(frozen=True)
class PollingSchedule:
    fast_duration: float = 30.0
    fast_interval: float = 1.0
    initial_delay: float = 1.0
    max_delay: float = 30.0
    multiplier: float = 1.15
    jitter: float = 0.25
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def __post_init__(self) -> None:
        for name in ("fast_duration", "fast_interval", "initial_delay", "max_delay"):
            if getattr(self, name) < 0:
                raise ValueError(f"PollingSchedule.{name} must be >= 0")
        if self.multiplier < 1 or not 0 <= self.jitter < 1:
            raise ValueError("PollingSchedule: multiplier must be >= 1 and jitter in [0, 1)")

    def _jittered(self, seconds: float) -> float:
        return seconds * (1 + (self.rng.random() * 2 - 1) * self.jitter)

    def base_delay(self, elapsed: float) -> float:
        """The delay before jitter after ``elapsed`` seconds of polling."""
        if elapsed < self.fast_duration:
            return self.fast_interval
        in_backoff = elapsed - self.fast_duration
        if self.multiplier == 1:
            attempt = int(in_backoff / self.initial_delay) if self.initial_delay else 0
        else:
            inner = in_backoff * (self.multiplier - 1) / max(self.initial_delay, 1e-9) + 1
            attempt = int(math.log(inner) / math.log(self.multiplier)) if inner > 0 else 0
        return min(self.initial_delay * self.multiplier**attempt, self.max_delay)

    def delay(self, elapsed: float) -> float:
        return self._jittered(self.base_delay(elapsed))


def poll_until(
    retrieve: Callable[[], T],
    is_done: Callable[[T], bool],
    *,
    schedule: PollingSchedule,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
    max_wait: float | None = None,
    describe: Callable[[T], str] = str,
) -> T:
    """Retrieve at once, then after each delay, until ``is_done``; past ``max_wait``
    seconds (None: no limit, as in the SDK) a :class:`WaitTimeoutError`."""
    started = clock()
    while True:
        result = retrieve()
        if is_done(result):
            return result
        elapsed = clock() - started
        if max_wait is not None and elapsed >= max_wait:
            raise WaitTimeoutError(f"{describe(result)} after {elapsed:.0f} s (max_wait)")
        delay = schedule.delay(elapsed)
        if max_wait is not None:
            delay = min(delay, max_wait - elapsed)
        sleep(delay)
