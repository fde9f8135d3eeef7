"""Injected faults for tests: 5xx, 429 bursts, slow and dropped answers, late answers."""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field


@dataclass
class Faults:
    error_rate: float = 0.0
    error_status: int = 503
    html_errors: bool = False
    rate_limit_burst: int = 0
    slow_seconds: float = 0.0
    drop_rate: float = 0.0
    slow_after_commit_seconds: float = 0.0
    # A batch POST answers at once; its runs are created (and listed) this much later,
    # as Extend's docs allow ("runs are queued").
    batch_create_delay_seconds: float = 0.0
    fail_rate: float = 0.0  # share of runs that end FAILED (INTERNAL_ERROR) when processed
    forbidden: bool = False  # every API request answers 403
    usage_blocked: bool = False  # run-creating requests answer 402 (USAGE_BLOCKED)
    seed: int = 0


@dataclass
class Verdict:
    rate_limited: bool = False
    error_status: int | None = None
    drop: bool = False


@dataclass
class FaultPlan:
    """Decides, per API request, which fault (if any) it meets. Thread-safe and seeded."""

    faults: Faults = field(default_factory=Faults)
    requests_per_second: float | None = None
    _rng: random.Random = field(default_factory=random.Random)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _burst_left: int = 0
    _tokens: float = -1.0  # full on first use
    _refilled: float = field(default_factory=time.monotonic)

    def set(self, faults: Faults) -> None:
        with self._lock:
            self.faults = faults
            self._rng = random.Random(faults.seed)
            self._burst_left = faults.rate_limit_burst

    def verdict(self) -> Verdict:
        with self._lock:
            if self._burst_left > 0:
                self._burst_left -= 1
                return Verdict(rate_limited=True)
            if self.requests_per_second and not self._take_token():
                return Verdict(rate_limited=True)
            f = self.faults
            if f.drop_rate and self._rng.random() < f.drop_rate:
                return Verdict(drop=True)
            if f.error_rate and self._rng.random() < f.error_rate:
                return Verdict(error_status=f.error_status)
            return Verdict()

    def run_fails(self) -> bool:
        with self._lock:
            return bool(self.faults.fail_rate) and self._rng.random() < self.faults.fail_rate

    def _take_token(self) -> bool:
        rate = float(self.requests_per_second or 0)
        now = time.monotonic()
        if self._tokens < 0:
            self._tokens = rate
        self._tokens = min(rate, self._tokens + (now - self._refilled) * rate)
        self._refilled = now
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        return False
