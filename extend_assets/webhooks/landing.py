"""The landing zone: each verified event stored durably, once per eventId, then read back.

A landing zone is ``s3://bucket/prefix`` (boto3 PutObject; credentials and endpoint
from the standard AWS environment) or a local directory (temp file, fsync, rename,
fsync the directory). Layout under the root::

    events/{position}.json          the landed event (JSON record, see LandedEvent)
    by-run/{runId}/{position}       empty index entries, to read a run's events
    by-batch/{batchId}/{position}   empty index entries, to read a batch's events
    ids/{eventId}                   marker: "pending P" first, "landed P" last

``position`` is ``{UTC receive time, µs}_{eventId}``, so names sort in landing order and
a reader resumes with "everything after position P" (:meth:`LandingZone.read_after`).
A redelivered eventId finds its marker and is a no-op; one cut short by a crash is
finished without a second copy. (Two receiver replicas landing the same eventId at
the same instant could both write it; readers dedupe by eventId within a call.)

A write starts with the position's timestamp and ends within the store's timeouts,
so readers hold back positions younger than ``settle_seconds`` (default 120 s, far
above one write): an event still being written is never skipped by a cursor.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from extend_assets.webhooks.errors import LandingError
from extend_assets.webhooks.events import WebhookEvent, scrub

LANDING_FORMAT = 1
DEFAULT_SETTLE_SECONDS = 120.0
_STAMP = "%Y%m%dT%H%M%S.%fZ"


@dataclass(frozen=True)
class LandedEvent:
    """One event as landed. ``payload`` is the WorkflowRun (scrubbed of presigned URLs)."""

    position: str
    event_id: str
    event_type: str
    api_version: str
    received_at: str
    run_id: str | None
    batch_id: str | None
    run_status: str | None
    delivered_as: str
    payload: dict[str, Any] = field(repr=False)

    @classmethod
    def from_record(cls, position: str, record: dict[str, Any]) -> LandedEvent:
        return cls(
            position=position,
            event_id=record["eventId"],
            event_type=record["eventType"],
            api_version=record["apiVersion"],
            received_at=record["receivedAt"],
            run_id=record.get("runId"),
            batch_id=record.get("batchId"),
            run_status=record.get("runStatus"),
            delivered_as=record.get("deliveredAs", "json"),
            payload=record["payload"],
        )


@dataclass(frozen=True)
class EventPage:
    """Events after a position, oldest first; ``position`` resumes after the last one."""

    events: list[LandedEvent]
    position: str | None
    more: bool


@dataclass(frozen=True)
class LandResult:
    landed: bool  # False: this eventId was already landed, nothing written
    position: str


def event_position(event_id: str, when: datetime) -> str:
    return f"{when.astimezone(UTC).strftime(_STAMP)}_{event_id}"


def position_time(position: str) -> datetime:
    return datetime.strptime(position.split("_", 1)[0], _STAMP).replace(tzinfo=UTC)


def to_record(event: WebhookEvent, received_at: datetime, delivered_as: str) -> dict[str, Any]:
    return {
        "landingFormat": LANDING_FORMAT,
        "eventId": event.event_id,
        "eventType": event.event_type,
        "apiVersion": event.api_version,
        "receivedAt": received_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "runId": event.run_id,
        "batchId": event.batch_id,
        "runStatus": event.run_status,
        "deliveredAs": delivered_as,
        "payload": scrub(event.payload),
    }


class LandingZone(ABC):
    """Where events land and where the sensor and the outputs read them back."""

    description: str

    def __init__(self) -> None:
        self._locks: dict[str, tuple[threading.Lock, int]] = {}
        self._locks_guard = threading.Lock()

    # -- writing ----------------------------------------------------------------------

    def land(
        self, event: WebhookEvent, *, delivered_as: str = "json", now: datetime | None = None
    ) -> LandResult:
        """Store ``event`` durably unless its eventId already landed; LandingError if not.

        The marker ``ids/{eventId}`` is written first as ``pending P`` and last as
        ``landed P``: a delivery cut short anywhere is finished by the redelivery
        without a second copy of the event.
        """
        with self._event_lock(event.event_id):
            marker_key = f"ids/{event.event_id}"
            state, position = _read_marker(self._get_optional(marker_key))
            if state == "landed":
                return LandResult(landed=False, position=position)
            if state == "pending" and self._get_optional(f"events/{position}.json") is not None:
                self._write_indexes(event, position)  # the cut-short delivery got this far
                self._put(marker_key, f"landed {position}".encode())
                return LandResult(landed=False, position=position)
            received = now or datetime.now(UTC)
            position = event_position(event.event_id, received)
            self._put(marker_key, f"pending {position}".encode())
            body = json.dumps(to_record(event, received, delivered_as), separators=(",", ":"))
            self._put(f"events/{position}.json", body.encode())
            self._write_indexes(event, position)
            self._put(marker_key, f"landed {position}".encode())
            return LandResult(landed=True, position=position)

    def _write_indexes(self, event: WebhookEvent, position: str) -> None:
        if event.run_id:
            self._put(f"by-run/{_key_part(event.run_id)}/{position}", b"")
        if event.batch_id:
            self._put(f"by-batch/{_key_part(event.batch_id)}/{position}", b"")

    def contains(self, event_id: str) -> bool:
        """True once the event is fully landed."""
        return _read_marker(self._get_optional(f"ids/{event_id}"))[0] == "landed"

    @abstractmethod
    def check(self) -> None:
        """LandingError unless the zone is reachable and writable (called at startup)."""

    # -- reading ----------------------------------------------------------------------

    def read_after(
        self,
        position: str | None = None,
        *,
        limit: int = 1000,
        settle_seconds: float = DEFAULT_SETTLE_SECONDS,
        now: datetime | None = None,
    ) -> EventPage:
        """Up to ``limit`` events landed after ``position`` (None: from the start).

        Positions younger than ``settle_seconds`` are held back for a later call, so
        a cursor never passes an event still being written. Pass the returned
        ``position`` next time; ``more`` says another call would return events now.
        """
        if limit < 1:
            raise ValueError("limit must be at least 1")
        horizon = (now or datetime.now(UTC)).timestamp() - settle_seconds
        names = self._list(
            "events/", after=f"{position}.json" if position else None, limit=limit + 1
        )
        events: list[LandedEvent] = []
        more = False
        for name in names:
            pos = name.removesuffix(".json")
            if position_time(pos).timestamp() > horizon:
                break
            if len(events) == limit:
                more = True
                break
            events.append(self.read(pos))
        return EventPage(
            events=_dedupe(events),
            position=events[-1].position if events else position,
            more=more,
        )

    def iter_after(
        self, position: str | None = None, *, settle_seconds: float = DEFAULT_SETTLE_SECONDS
    ) -> Iterator[LandedEvent]:
        """Every settled event after ``position``, page by page (for backfills and tools)."""
        while True:
            page = self.read_after(position, settle_seconds=settle_seconds)
            yield from page.events
            if not page.more:
                return
            position = page.position

    def read(self, position: str) -> LandedEvent:
        body = self._get_optional(f"events/{position}.json")
        if body is None:
            raise LandingError(f"{self.description}: no landed event at position {position}")
        try:
            return LandedEvent.from_record(position, json.loads(body))
        except (ValueError, KeyError, TypeError) as error:
            raise LandingError(
                f"{self.description}: events/{position}.json is not a landed event ({error!r})"
            ) from None

    def events_for_runs(self, run_ids: Iterable[str]) -> list[LandedEvent]:
        """Every landed event of these runs, oldest first, once per eventId."""
        return self._indexed("by-run", run_ids)

    def events_for_batches(self, batch_ids: Iterable[str]) -> list[LandedEvent]:
        """Every landed event of runs in these batches, oldest first, once per eventId."""
        return self._indexed("by-batch", batch_ids)

    def _indexed(self, index: str, ids: Iterable[str]) -> list[LandedEvent]:
        positions: set[str] = set()
        for value in dict.fromkeys(ids):
            positions.update(self._list(f"{index}/{_key_part(value)}/", after=None, limit=None))
        return _dedupe([self.read(p) for p in sorted(positions)])

    # -- storage primitives -----------------------------------------------------------

    @abstractmethod
    def _put(self, key: str, body: bytes) -> None: ...

    @abstractmethod
    def _get_optional(self, key: str) -> bytes | None: ...

    @abstractmethod
    def _list(self, prefix: str, *, after: str | None, limit: int | None) -> list[str]:
        """Names (relative to ``prefix``) sorted ascending, strictly after ``after``."""

    @contextlib.contextmanager
    def _event_lock(self, event_id: str) -> Iterator[None]:
        """Serializes concurrent deliveries of one eventId within this process."""
        with self._locks_guard:
            lock, users = self._locks.get(event_id, (threading.Lock(), 0))
            self._locks[event_id] = (lock, users + 1)
        try:
            with lock:
                yield
        finally:
            with self._locks_guard:
                lock, users = self._locks[event_id]
                if users == 1:
                    del self._locks[event_id]
                else:
                    self._locks[event_id] = (lock, users - 1)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.description})"


class DirectoryLandingZone(LandingZone):
    """A local directory; each file is written to a temp name, fsynced and renamed."""

    def __init__(self, root: str | Path) -> None:
        super().__init__()
        self.root = Path(root).resolve()
        self.description = str(self.root)
        try:
            self._ensure_dir(self.root)
        except OSError as error:
            raise LandingError(f"cannot create {self.root}: {error.strerror}") from None

    def _put(self, key: str, body: bytes) -> None:
        target = self.root / key
        try:
            self._ensure_dir(target.parent)
            temp = target.parent / f".tmp-{uuid.uuid4().hex}"
            with open(temp, "wb") as handle:
                handle.write(body)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, target)
            _fsync_dir(target.parent)
        except OSError as error:
            raise LandingError(f"cannot write {target}: {error.strerror or error}") from None

    def check(self) -> None:
        if not os.access(self.root, os.W_OK | os.X_OK):
            raise LandingError(f"directory {self.root} is not writable by this user")

    def _get_optional(self, key: str) -> bytes | None:
        try:
            return (self.root / key).read_bytes()
        except FileNotFoundError:
            return None
        except OSError as error:
            raise LandingError(f"cannot read {self.root / key}: {error.strerror}") from None

    def _list(self, prefix: str, *, after: str | None, limit: int | None) -> list[str]:
        try:
            names = os.listdir(self.root / prefix)
        except FileNotFoundError:
            return []
        except OSError as error:
            raise LandingError(f"cannot list {self.root / prefix}: {error.strerror}") from None
        picked = sorted(n for n in names if not n.startswith(".") and (after is None or n > after))
        return picked if limit is None else picked[:limit]

    def _ensure_dir(self, path: Path) -> None:
        if path.is_dir():
            return
        self._ensure_dir(path.parent)
        with contextlib.suppress(FileExistsError):
            path.mkdir()
            _fsync_dir(path.parent)


class S3LandingZone(LandingZone):
    """``s3://bucket/prefix``: one PutObject per file (S3 writes are durable on 200)."""

    def __init__(self, bucket: str, prefix: str = "", *, client: Any = None) -> None:
        super().__init__()
        if not bucket:
            raise ValueError("an s3:// landing zone needs a bucket: s3://BUCKET/PREFIX")
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.description = f"s3://{bucket}/{self.prefix}"
        self._client = client if client is not None else _default_s3_client()

    def check(self) -> None:
        try:
            self._client.head_bucket(Bucket=self.bucket)
        except Exception as error:
            raise LandingError(
                f"bucket {self.bucket} is not reachable: {_aws_reason(error)}; check the name, "
                "the AWS credentials and AWS_ENDPOINT_URL"
            ) from None

    def _put(self, key: str, body: bytes) -> None:
        try:
            self._client.put_object(Bucket=self.bucket, Key=self.prefix + key, Body=body)
        except Exception as error:
            raise LandingError(
                f"PutObject {self.description}{key} failed: {_aws_reason(error)}"
            ) from None

    def _get_optional(self, key: str) -> bytes | None:
        try:
            answer = self._client.get_object(Bucket=self.bucket, Key=self.prefix + key)
            body: bytes = answer["Body"].read()
            return body
        except Exception as error:
            if _aws_code(error) in {"NoSuchKey", "404", "NotFound"}:
                return None
            raise LandingError(
                f"GetObject {self.description}{key} failed: {_aws_reason(error)}"
            ) from None

    def _list(self, prefix: str, *, after: str | None, limit: int | None) -> list[str]:
        full = self.prefix + prefix
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Prefix": full}
        if after is not None:
            kwargs["StartAfter"] = full + after
        names: list[str] = []
        try:
            while limit is None or len(names) < limit:
                if limit is not None:
                    kwargs["MaxKeys"] = min(1000, limit - len(names))
                answer = self._client.list_objects_v2(**kwargs)
                names.extend(item["Key"][len(full) :] for item in answer.get("Contents", []))
                if not answer.get("IsTruncated"):
                    break
                kwargs["ContinuationToken"] = answer["NextContinuationToken"]
        except Exception as error:
            raise LandingError(
                f"ListObjectsV2 {self.description}{prefix} failed: {_aws_reason(error)}"
            ) from None
        return names


def open_landing_zone(target: str, *, s3_client: Any = None) -> LandingZone:
    """``s3://bucket/prefix`` or a local directory (created if missing)."""
    if target.startswith("s3://"):
        bucket, _, prefix = target[len("s3://") :].partition("/")
        return S3LandingZone(bucket, prefix, client=s3_client)
    if "://" in target and not target.startswith("file://"):
        raise ValueError(f"landing zone {target!r}: use s3://BUCKET/PREFIX or a local directory")
    return DirectoryLandingZone(target.removeprefix("file://"))


def _default_s3_client() -> Any:
    import boto3
    from botocore.config import Config

    # Bounded: a write ends well within Extend's 30 s and the readers' settle time.
    config = Config(
        connect_timeout=5,
        read_timeout=10,
        retries={"max_attempts": 3, "mode": "standard"},
        s3={"addressing_style": os.environ.get("EXTEND_WEBHOOKS_S3_ADDRESSING", "auto")},
    )
    return boto3.client("s3", config=config)


def _key_part(value: str) -> str:
    return quote(value, safe="-_.")


def _read_marker(body: bytes | None) -> tuple[str, str]:
    if body is None:
        return "absent", ""
    state, _, position = body.decode().partition(" ")
    return state, position


def _dedupe(events: list[LandedEvent]) -> list[LandedEvent]:
    seen: set[str] = set()
    unique = []
    for event in events:
        if event.event_id not in seen:
            seen.add(event.event_id)
            unique.append(event)
    return unique


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _aws_code(error: Exception) -> str:
    response = getattr(error, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""


def _aws_reason(error: Exception) -> str:
    code = _aws_code(error)
    return code or type(error).__name__
