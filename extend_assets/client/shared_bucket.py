"""One request schedule shared by every process on one machine, through a locked file.

Processes that hold their own clients (run workers, the daemon's sensors) on one host
reserve their request slots from one file: each takes the next free slot and moves it
on by ``1 / rate`` under an exclusive ``fcntl`` lock, so together they send at most
``rate`` requests per second, evenly spaced, however many they are. The file holds
one number (the next free slot, in epoch seconds) and is named by a digest of the
base URL, workspace and key, never by the key itself.

POSIX only (``fcntl``); on other systems the adaptive limiter works alone.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

RATE_LIMIT_DIR_ENV = "EXTEND_RATE_LIMIT_DIR"

_STALE_SECONDS = 3600.0
"""A next slot further out than this is not a queue but a broken clock: start afresh."""


class SharedBucketError(ValueError):
    """The shared rate-limit directory is unusable; the message names the option."""


def account_digest(base_url: str, workspace_id: str | None, api_key: str) -> str:
    """One account's name in a shared schedule (file or row): a digest, so the key never shows."""
    digest = hashlib.sha256(f"{base_url}\n{workspace_id or ''}\n{api_key}".encode()).hexdigest()
    return digest[:20]


def bucket_name(base_url: str, workspace_id: str | None, api_key: str) -> str:
    """The file name of one account's schedule."""
    return f"extend-rate-{account_digest(base_url, workspace_id, api_key)}.slot"


class FileTokenBucket:
    """Hands out request slots ``1 / rate`` apart to every process that opens ``path``."""

    def __init__(
        self,
        directory: str | os.PathLike[str],
        name: str,
        rate_per_second: float,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if fcntl is None:  # pragma: no cover - Windows
            raise SharedBucketError(
                f"rate_limit_dir ({RATE_LIMIT_DIR_ENV}) needs fcntl (POSIX); unset it here"
            )
        if rate_per_second <= 0:
            raise ValueError(f"requests_per_second must be positive, got {rate_per_second}")
        folder = Path(directory)
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise SharedBucketError(
                f"rate_limit_dir ({RATE_LIMIT_DIR_ENV}) {str(folder)!r} cannot be created "
                f"({error.strerror}); point it at a writable local directory"
            ) from None
        self.path = folder / name
        self.rate = float(rate_per_second)
        self.location = str(self.path)
        self._clock = clock
        self._sleep = sleep

    def reserve(self) -> float:
        """Take the next free slot; returns the seconds until it."""
        assert fcntl is not None
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            raw = os.pread(fd, 64, 0)
            now = self._clock()
            try:
                next_free = float(raw.decode().strip() or "0")
            except ValueError:
                next_free = 0.0
            if next_free > now + _STALE_SECONDS:
                next_free = 0.0
            slot = max(now, next_free)
            text = repr(slot + 1.0 / self.rate).encode()
            os.ftruncate(fd, 0)
            os.pwrite(fd, text, 0)
        finally:
            os.close(fd)  # closing releases the lock
        return slot - now

    def acquire(self) -> float:
        """Wait for the next free slot; returns the seconds waited."""
        wait = self.reserve()
        if wait > 0:
            self._sleep(wait)
        return wait

    def close(self) -> None:
        """Nothing held between requests (each one opens and locks the file)."""
