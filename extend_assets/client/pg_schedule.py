"""One request schedule shared by every process of a deployment, through PostgreSQL.

The multi-machine counterpart of :mod:`extend_assets.client.shared_bucket`: run workers
in their own containers, sensors in the daemon, any process that reaches the
deployment's PostgreSQL reserves its request slots from one row per account, so
together they send at most ``rate`` requests per second, evenly spaced.

One atomic statement per request (an upsert) moves the account's next free slot on by
``1 / rate`` and returns the caller's slot; no lock is held while the caller waits for
it. Times are the server's (``clock_timestamp()``), so the machines' clocks need not
agree. The row is keyed by a digest of base URL, workspace and key, never the key.

PostgreSQL is a helper here, never a dependency of a run: when it cannot be reached
(after one reconnect), the schedule logs one WARNING and steps aside, leaving the
adaptive limiter alone; it tries again after ``RETRY_SECONDS``.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

logger = logging.getLogger("extend_assets.client")

TABLE = "extend_assets_rate_schedule"
CONNECT_TIMEOUT_SECONDS = 5
STATEMENT_TIMEOUT_MS = 5000
RETRY_SECONDS = 60.0
"""After PostgreSQL failed, the adaptive limiter paces alone this long before a retry."""

_STALE_SECONDS = 3600.0
"""A next slot further out than this is not a queue but a broken clock: start afresh."""

_CREATE = f"""
create table if not exists {TABLE} (
    account_hash text primary key,
    next_slot double precision not null
)"""

# The caller's slot is the later of now and the next free slot; the row moves on by one
# interval. Concurrent upserts of one row queue on its row lock, each seeing the last.
_RESERVE = f"""
insert into {TABLE} as t (account_hash, next_slot)
values (%(account)s, extract(epoch from clock_timestamp()) + %(interval)s)
on conflict (account_hash) do update set next_slot = (
    case when t.next_slot > extract(epoch from clock_timestamp()) + {_STALE_SECONDS}
         then extract(epoch from clock_timestamp())
         else greatest(t.next_slot, extract(epoch from clock_timestamp()))
    end) + %(interval)s
returning next_slot - %(interval)s, extract(epoch from clock_timestamp())"""


def is_postgres_url(store: str) -> bool:
    return store.startswith(("postgresql://", "postgres://", "postgresql+"))


def safe_location(url: str) -> str:
    """``host:port/db`` of a URL, for messages: never its user or password."""
    try:
        parts = urlsplit(url)
        port = f":{parts.port}" if parts.port else ""
        return f"{parts.hostname or 'localhost'}{port}{parts.path or ''}"
    except ValueError:
        return "<unparsable URL>"


def _libpq_url(url: str) -> str:
    """SQLAlchemy spells the driver into the scheme (``postgresql+psycopg2://``); libpq not."""
    scheme, sep, rest = url.partition("://")
    return f"postgresql://{rest}" if sep and scheme.startswith("postgresql+") else url


class PostgresSchedule:
    """Hands out request slots ``1 / rate`` apart to every process on one PostgreSQL.

    Thread-safe: the threads of one process share one lazily opened autocommit
    connection, each holding it for one statement only.
    """

    def __init__(
        self,
        url: str,
        account: str,
        rate_per_second: float,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        connect: Callable[[str], Any] | None = None,
    ) -> None:
        if rate_per_second <= 0:
            raise ValueError(f"requests_per_second must be positive, got {rate_per_second}")
        self._url = _libpq_url(url)
        self.location = safe_location(url)
        self._password = _password(url)
        self.account = account
        self.rate = float(rate_per_second)
        self._sleep = sleep
        self._clock = clock
        self._connect_fn = connect or _connect
        self._lock = threading.Lock()
        self._connection: Any = None
        self._down_until: float | None = None
        self.warned = False

    def reserve(self) -> float | None:
        """Take the next free slot: the seconds until it, or None while PostgreSQL is
        unreachable (the caller then paces with its adaptive limiter alone)."""
        reserved = self.reserve_slot()
        return None if reserved is None else reserved[0]

    def reserve_slot(self) -> tuple[float, float] | None:
        """``(seconds to wait, the slot in the server's epoch seconds)``, or None."""
        with self._lock:
            if self._down_until is not None and self._clock() < self._down_until:
                return None
            failure: BaseException | None = None
            for _ in range(2):  # one reconnect: a dropped connection is not an outage
                was_open = self._connection is not None
                try:
                    slot, now = self._reserve_once()
                except Exception as error:  # the driver's or the network's: step aside
                    failure = error
                    self._drop()
                    if was_open:
                        continue
                    break  # a fresh connect failed: trying again at once would not help
                if self._down_until is not None:
                    logger.info("The shared request schedule on %s is back.", self.location)
                self._down_until = None
                return max(0.0, slot - now), slot
            self._down_until = self._clock() + RETRY_SECONDS
            if not self.warned:
                self.warned = True
                logger.warning(
                    "The shared request schedule on PostgreSQL (%s) is unavailable (%s); "
                    "pacing with the adaptive rate limiter alone, retrying every %.0f s. "
                    "Check that this process reaches the database (rate_limit_store / "
                    "EXTEND_RATE_LIMIT_STORE, else the Dagster instance's storage).",
                    self.location,
                    _describe(failure, self._password),
                    RETRY_SECONDS,
                )
            return None

    def acquire(self) -> float:
        """Wait for the next free slot; returns the seconds waited (0 while unreachable)."""
        wait = self.reserve()
        if wait:
            self._sleep(wait)
        return wait or 0.0

    def close(self) -> None:
        with self._lock:
            self._drop()

    def _reserve_once(self) -> tuple[float, float]:
        if self._connection is None:
            self._connection = self._connect_fn(self._url)
            self._ensure_table()
        with self._connection.cursor() as cursor:
            cursor.execute(_RESERVE, {"account": self.account, "interval": 1.0 / self.rate})
            row = cursor.fetchone()
        return float(row[0]), float(row[1])

    def _ensure_table(self) -> None:
        import psycopg2

        with self._connection.cursor() as cursor:
            cursor.execute("select to_regclass(%s)", (TABLE,))
            if cursor.fetchone()[0] is not None:
                return
            # IntegrityError: another process created it at the same moment.
            with contextlib.suppress(psycopg2.IntegrityError):
                cursor.execute(_CREATE)

    def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):  # already broken: nothing to release
                connection.close()


def _connect(url: str) -> Any:
    try:
        import psycopg2
    except ImportError:
        raise ImportError(
            "psycopg2 is not installed: pip install 'extend-assets[postgres]'"
        ) from None
    connection = psycopg2.connect(
        url,
        connect_timeout=CONNECT_TIMEOUT_SECONDS,
        options=f"-c statement_timeout={STATEMENT_TIMEOUT_MS}",
        application_name="extend_assets rate schedule",
        keepalives=1,
        keepalives_idle=30,
    )
    connection.autocommit = True
    return connection


def _password(url: str) -> str | None:
    try:
        return urlsplit(url).password
    except ValueError:
        return None


def _describe(error: BaseException | None, password: str | None) -> str:
    """The failure's kind and first line, the password cut out should libpq quote it."""
    if error is None:
        return "unknown error"
    first = (str(error).strip().splitlines() or [""])[0][:200]
    if password:
        first = first.replace(password, "[redacted]")
    return f"{type(error).__name__}: {first}" if first else type(error).__name__
