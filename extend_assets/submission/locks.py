"""The serialization point of submissions: one holder per (workflow, partition) at a time.

A submission holds the locks of its partitions from its first ledger read to its last
ledger record. Inside, nobody else writes those partitions' ledgers, so

- the ledger it reads is the whole truth (no concurrent intent can slip between reads);
- an open intent it finds has no live owner: owners hold the lock from intent to
  outcome, so the intent's owner died (or lost its lock) mid-submission;
- before each POST the owner checks it still holds the lock (:meth:`Held.check`, the
  fence): an owner that lost it never POSTs, so an intent someone else abandoned can
  never reach Extend afterwards.

Two implementations, chosen by the Dagster layer from the instance's storage:

- :class:`PostgresAdvisoryLocks`: session advisory locks in the instance's PostgreSQL;
  across machines; released by the server when the holder's connection ends (a
  killed worker, a lost container).
- :class:`FileLocks`: ``flock`` on files beside the instance (SQLite storage: one
  machine); released by the kernel when the holder's process ends.

Locks are taken in one global order (sorted keys), so two submissions over
overlapping partition ranges cannot deadlock; a holder waits for them bounded by
``timeout`` and then fails naming what it waited for.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any, Protocol

from extend_assets.errors import SubmissionError

DEFAULT_LOCK_TIMEOUT_SECONDS = 3600.0
POLL_SECONDS = 0.2
LOG_EVERY_SECONDS = 30.0


class LockLostError(SubmissionError):
    """The submission no longer holds its partitions' lock: it must not POST."""


class LockTimeoutError(SubmissionError):
    """Another submission held the partitions for longer than the wait allowed."""


class Held(Protocol):
    def check(self) -> None:
        """Raise :class:`LockLostError` unless every lock is still held."""


class PartitionLocks(Protocol):
    """Mutual exclusion over names (one per workflow and partition), across processes."""

    description: str

    def hold(
        self, names: Sequence[str], log: Callable[[str], None]
    ) -> contextlib.AbstractContextManager[Held]: ...


def lock_names(workflow_id: str, partitions: Sequence[str]) -> list[str]:
    return sorted({f"{workflow_id}/{partition}" for partition in partitions})


def _wait_message(what: str, waited: float, names: Sequence[str]) -> str:
    shown = ", ".join(n.split("/", 1)[-1] for n in names[:5])
    more = f" (+{len(names) - 5} more)" if len(names) > 5 else ""
    return (
        f"Waiting {waited:.0f} s for another submission of partition(s) {shown}{more} "
        f"to finish ({what}): overlapping submissions take turns, so each document "
        "version is sent once."
    )


def _acquire_each(
    keys: Sequence[Any],
    try_one: Callable[[Any], bool],
    names: Sequence[str],
    *,
    what: str,
    timeout: float,
    log: Callable[[str], None],
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Take every key in order, waiting (bounded) for each."""
    started = clock()
    logged = started
    for key in keys:
        while not try_one(key):
            now = clock()
            if now - started > timeout:
                raise LockTimeoutError(
                    f"Gave up after {now - started:.0f} s waiting for another submission of "
                    f"the same partitions ({what}). Nothing was sent by this run; materialize "
                    "the partitions again once the other run is done (or failed)."
                )
            if now - logged >= LOG_EVERY_SECONDS:
                log(_wait_message(what, now - started, names))
                logged = now
            sleep(POLL_SECONDS)


class _FilesHeld:
    def __init__(self, files: list[IO[bytes]]) -> None:
        self._files = files

    def check(self) -> None:
        if any(f.closed for f in self._files):
            raise LockLostError("the submission's lock files were closed; not sending.")


class FileLocks:
    """``flock`` locks in a directory shared by every process of one machine."""

    def __init__(self, directory: Path, timeout: float = DEFAULT_LOCK_TIMEOUT_SECONDS) -> None:
        self._directory = directory
        self._timeout = timeout
        self.description = f"file locks in {directory}"

    @contextlib.contextmanager
    def hold(self, names: Sequence[str], log: Callable[[str], None]) -> Iterator[Held]:
        self._directory.mkdir(parents=True, exist_ok=True)
        files: list[IO[bytes]] = []
        try:
            paths = sorted(
                self._directory / (hashlib.sha256(n.encode()).hexdigest()[:32] + ".lock")
                for n in names
            )

            def try_one(path: Path) -> bool:
                handle = open(path, "ab")  # noqa: SIM115 - kept open while the lock is held
                try:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    handle.close()
                    return False
                files.append(handle)
                return True

            _acquire_each(
                paths, try_one, names, what=self.description, timeout=self._timeout, log=log
            )
            yield _FilesHeld(files)
        finally:
            for handle in reversed(files):
                handle.close()  # closing the descriptor releases its flock


def advisory_key(name: str) -> int:
    """A signed 64-bit key for ``pg_advisory_lock``; a collision only over-serializes."""
    return int.from_bytes(
        hashlib.blake2b(name.encode(), digest_size=8).digest(), "big", signed=True
    )


class _PostgresHeld:
    def __init__(self, connection: Any, keys: Sequence[int]) -> None:
        self._connection = connection
        self._keys = list(keys)

    def check(self) -> None:
        from sqlalchemy import text

        try:
            # This connection holds nothing but these locks (bigint keys: objsubid 1).
            held = self._connection.execute(
                text(
                    "select count(*) from pg_locks where locktype = 'advisory' and granted "
                    "and objsubid = 1 and pid = pg_backend_pid()"
                )
            ).scalar_one()
        except Exception as error:  # the connection is gone: so is the lock
            raise LockLostError(
                f"lost the connection that holds the submission lock ({type(error).__name__}); "
                "not sending. A later materialization reconciles this submission."
            ) from None
        if int(held) < len(set(self._keys)):
            raise LockLostError("the submission lock is no longer held; not sending.")


class PostgresAdvisoryLocks:
    """Session advisory locks in PostgreSQL, on a connection of their own."""

    def __init__(self, url: str, timeout: float = DEFAULT_LOCK_TIMEOUT_SECONDS) -> None:
        # dagster-postgres brings psycopg2; a URL without a driver means that one.
        self._url = url.replace("postgresql://", "postgresql+psycopg2://", 1)
        self._timeout = timeout
        self.description = "PostgreSQL advisory locks"

    @contextlib.contextmanager
    def hold(self, names: Sequence[str], log: Callable[[str], None]) -> Iterator[Held]:
        from sqlalchemy import create_engine, text
        from sqlalchemy.pool import NullPool

        engine = create_engine(self._url, poolclass=NullPool)
        keys = sorted({advisory_key(n) for n in names})
        try:
            with engine.connect() as connection:
                connection = connection.execution_options(isolation_level="AUTOCOMMIT")

                def try_one(key: int) -> bool:
                    return bool(
                        connection.execute(
                            text("select pg_try_advisory_lock(:key)"), {"key": key}
                        ).scalar_one()
                    )

                try:
                    _acquire_each(
                        keys, try_one, names, what=self.description, timeout=self._timeout, log=log
                    )
                    yield _PostgresHeld(connection, keys)
                finally:
                    with contextlib.suppress(Exception):
                        connection.execute(text("select pg_advisory_unlock_all()"))
        finally:
            engine.dispose()


def default_lock_directory(root: str | os.PathLike[str]) -> Path:
    return Path(root) / "extend_assets_locks"


LEASE_SECONDS = 60.0


class _S3Held:
    def __init__(self, clock: Callable[[], float]) -> None:
        self.expires: dict[str, float] = {}
        self.etags: dict[str, str] = {}
        self.lost: str | None = None
        self._clock = clock

    def check(self) -> None:
        if self.lost:
            raise LockLostError(f"the submission's lease was lost ({self.lost}); not sending.")
        # A third of the lease left at least: the POST is over long before it runs out.
        soonest = min(self.expires.values(), default=0.0)
        if self._clock() > soonest - LEASE_SECONDS / 3:
            raise LockLostError("the submission's lease is about to run out; not sending.")


class S3LeaseLocks:
    """Lease objects under ``s3://bucket/prefix``, taken with S3 conditional writes
    (``If-None-Match: *`` to create, ``If-Match: <etag>`` to renew or take over an
    expired lease). For instances without PostgreSQL (Dagster+): a holder renews its
    leases every ``LEASE_SECONDS / 3``; one that dies stops renewing, and its lease may be
    taken over once expired. Clocks of the machines must agree within seconds."""

    def __init__(
        self,
        client: Any,
        bucket: str,
        prefix: str,
        timeout: float = DEFAULT_LOCK_TIMEOUT_SECONDS,
        *,
        owner: str = "",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client = client
        self._bucket = bucket
        self._prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self._timeout = timeout
        self._owner = owner
        self._clock = clock
        self.description = f"S3 leases under s3://{bucket}/{self._prefix}"

    def _body(self) -> bytes:
        return json.dumps({"owner": self._owner, "expires": self._clock() + LEASE_SECONDS}).encode()

    def _try(self, key: str, held: _S3Held) -> bool:
        from botocore.exceptions import ClientError

        expires = self._clock() + LEASE_SECONDS
        try:
            answer = self._client.put_object(
                Bucket=self._bucket, Key=key, Body=self._body(), IfNoneMatch="*"
            )
        except ClientError as error:
            if _status(error) not in (409, 412):
                raise
            try:
                current = self._client.get_object(Bucket=self._bucket, Key=key)
                lease = json.loads(current["Body"].read() or b"{}")
            except ClientError:
                return False  # released meanwhile: try again on the next poll
            if float(lease.get("expires", 0.0)) >= self._clock():
                return False
            try:  # expired: its holder died; take it over unless someone else just did
                answer = self._client.put_object(
                    Bucket=self._bucket, Key=key, Body=self._body(), IfMatch=current["ETag"]
                )
            except ClientError as again:
                if _status(again) not in (409, 412):
                    raise
                return False
        held.etags[key] = answer["ETag"]
        held.expires[key] = expires
        return True

    def _renew(self, held: _S3Held, stop: threading.Event) -> None:
        from botocore.exceptions import ClientError

        while not stop.wait(LEASE_SECONDS / 3):
            for key, etag in list(held.etags.items()):
                expires = self._clock() + LEASE_SECONDS
                try:
                    answer = self._client.put_object(
                        Bucket=self._bucket, Key=key, Body=self._body(), IfMatch=etag
                    )
                except ClientError as error:
                    held.lost = f"renewing {key} answered HTTP {_status(error)}"
                    return
                except Exception as error:  # network: the lease runs out unless renewed
                    held.lost = f"renewing {key} failed: {type(error).__name__}"
                    return
                held.etags[key] = answer["ETag"]
                held.expires[key] = expires

    @contextlib.contextmanager
    def hold(self, names: Sequence[str], log: Callable[[str], None]) -> Iterator[Held]:
        held = _S3Held(self._clock)
        keys = sorted(
            f"{self._prefix}{hashlib.sha256(n.encode()).hexdigest()[:32]}.lock" for n in names
        )
        stop = threading.Event()
        renewer = threading.Thread(target=self._renew, args=(held, stop), daemon=True)
        try:
            _acquire_each(
                keys,
                lambda key: self._try(key, held),
                names,
                what=self.description,
                timeout=self._timeout,
                log=log,
            )
            renewer.start()
            yield held
        finally:
            stop.set()
            if renewer.is_alive():
                renewer.join(LEASE_SECONDS)
            for key, etag in held.etags.items():
                with contextlib.suppress(Exception):
                    self._client.delete_object(Bucket=self._bucket, Key=key, IfMatch=etag)


def _status(error: Any) -> int:
    return int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
