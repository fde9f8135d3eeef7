"""When and how long to wait before trying a request again."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime


@dataclass
class RetryPolicy:
    """Exponential backoff with full jitter, bounded in attempts and in total time.

    A ``Retry-After`` is honoured (never retried sooner) but jittered upwards, by up to
    half of it and at least one second, so the clients a 429 stopped together do not
    all come back at the same moment.
    """

    max_retries: int = 5
    max_retry_time: float = 300.0
    base_delay: float = 0.5
    max_delay: float = 30.0
    rng: random.Random = field(default_factory=random.Random)

    def backoff(self, retry_number: int) -> float:
        """Delay before retry ``retry_number`` (1-based) when the server gave no hint."""
        ceiling = min(self.max_delay, self.base_delay * (2 ** (retry_number - 1)))
        return self.rng.uniform(0.0, ceiling)

    def delay(self, retry_number: int, retry_after: float | None) -> float:
        if retry_after is not None:
            honoured = min(max(0.0, retry_after), self.max_delay * 4)
            return honoured + self.rng.uniform(0.0, max(1.0, honoured / 2))
        return self.backoff(retry_number)

    def allows(self, retry_number: int, elapsed: float, delay: float) -> bool:
        return retry_number <= self.max_retries and elapsed + delay <= self.max_retry_time


def parse_retry_after(value: str | None, now_epoch: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date."""
    if not value:
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - now_epoch)
