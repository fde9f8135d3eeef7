"""Where the processes of a deployment share one request schedule: a choice by value.

``rate_limit_store`` is either a PostgreSQL URL (``postgresql://...``: every machine
that reaches the database, :mod:`.pg_schedule`) or a local directory (every process of
one machine, :mod:`.shared_bucket`); ``none`` turns the shared schedule off. Either way
the adaptive limiter stays in front of it, so a client whose store is down still paces.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

from extend_assets.client.pg_schedule import PostgresSchedule, is_postgres_url
from extend_assets.client.shared_bucket import FileTokenBucket, account_digest, bucket_name

RATE_LIMIT_STORE_ENV = "EXTEND_RATE_LIMIT_STORE"
NO_STORE = "none"


class SharedSchedule(Protocol):
    """Request slots ``1 / rate`` apart, shared beyond this process."""

    location: str

    def acquire(self) -> float: ...

    def close(self) -> None: ...


def open_schedule(
    store: str | None,
    *,
    base_url: str,
    workspace_id: str | None,
    api_key: str,
    rate_per_second: float | None,
    sleep: Callable[[float], None] = time.sleep,
) -> SharedSchedule | None:
    """The schedule ``store`` names for this account, or None (unset, ``none``, unlimited)."""
    if not store or not rate_per_second or store.strip().lower() == NO_STORE:
        return None
    if is_postgres_url(store):
        return PostgresSchedule(
            store, account_digest(base_url, workspace_id, api_key), rate_per_second, sleep=sleep
        )
    if "://" in store:
        raise ValueError(
            f"rate_limit_store ({RATE_LIMIT_STORE_ENV}) must be a postgresql:// URL, a local "
            f"directory or {NO_STORE!r}; got a URL of scheme {store.split('://', 1)[0]!r}"
        )
    return FileTokenBucket(
        store, bucket_name(base_url, workspace_id, api_key), rate_per_second, sleep=sleep
    )
