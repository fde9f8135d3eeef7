"""The landing zone: each verified event stored durably, once per eventId, then read back.

A landing zone is ``s3://bucket/prefix`` (boto3 PutObject; credentials and endpoint
from the standard AWS environment) or a local directory (temp file, fsync, rename,
fsync the directory). Layout under the root::

    events/{position}.json          the landed event (JSON record, see LandedEvent)
    by-run/{runId}/{position}       empty index entries, to read a run's events
    by-batch/{batchId}/{position}   empty index entries, to read a batch's events
    run-status/{batchId}/{runId}~{status}  empty entries: distinct runs per status, exactly
    ids/{eventId}                   marker: "pending P" first, "landed P" last
    claims/{eventId}/{position}     a stale claim moved to a new position (rare)

``position`` is ``{UTC receive time, µs}_{eventId}``, so names sort in landing order and
a reader resumes with "everything after position P" (:meth:`LandingZone.read_after`).
A redelivered eventId finds its marker and is a no-op; one cut short by a crash is
finished without a second copy. Any number of receiver replicas may share a zone: the
marker is created with a conditional write (S3 ``If-None-Match: *``; in a directory a
hard link, which fails if the name exists), so one position is chosen per eventId and
every replica writes that same object (see :meth:`LandingZone.land`).

A write starts with the position's timestamp and ends within the store's timeouts,
so readers hold back positions younger than ``settle_seconds`` (default 120 s, far
above one write): an event still being written is never skipped by a cursor.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import json
import tempfile
import threading
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO, Any, TypeVar
from urllib.parse import quote

import msgspec
import orjson

from extend_assets.webhooks.errors import LandingError
from extend_assets.webhooks.events import WebhookEvent, scrub

LANDING_FORMAT = 1
DEFAULT_SETTLE_SECONDS = 120.0
TAKEOVER_AFTER_SECONDS = 60.0
"""A claimed event with no event object after this long was cut short (far above one
write with the S3 client's timeouts, and half the readers' settle time)."""
_STAMP = "%Y%m%dT%H%M%S.%fZ"
T = TypeVar("T")


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
class LandedRun:
    """A landed event as the runs step reads it: the record's fields, and the payload
    (the WorkflowRun) left as its JSON text, so it can be written as it is and parsed
    only for the few fields the step matches on (``payload`` parses it whole)."""

    position: str
    event_id: str
    event_type: str
    api_version: str
    run_id: str | None
    batch_id: str | None
    run_status: str | None
    payload_json: bytes = field(repr=False)

    @property
    def payload(self) -> dict[str, Any]:
        parsed: dict[str, Any] = _loads(self.payload_json)
        return parsed


class _Record(msgspec.Struct):
    """A landed record with its payload not decoded (``LandedEvent.from_record``'s fields)."""

    eventId: str
    eventType: str
    apiVersion: str
    receivedAt: str
    payload: msgspec.Raw
    runId: str | None = None
    batchId: str | None = None
    runStatus: str | None = None


_RECORD = msgspec.json.Decoder(_Record)


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
    return {**record_fields(event, received_at, delivered_as), "payload": scrub(event.payload)}


def record_fields(event: WebhookEvent, received_at: datetime, delivered_as: str) -> dict[str, Any]:
    """The landed record without its payload."""
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

        Exactly one copy per eventId, whatever the number of receivers on this zone:
        the marker ``ids/{eventId}`` is *created* (a conditional write: S3
        ``If-None-Match: *``, a hard link in a directory) as ``pending P``; only one
        writer ever creates it, so every receiver of that eventId writes the event at
        that one position P (the same object, the same content) and ends with
        ``landed P``. A delivery cut short anywhere is finished by the redelivery.
        """
        with self._event_lock(event.event_id):
            marker_key = f"ids/{event.event_id}"
            for _ in range(5):
                state, position = _read_marker(self._get_optional(marker_key))
                if state == "landed":
                    return LandResult(landed=False, position=position)
                if state == "absent":
                    position = event_position(event.event_id, now or datetime.now(UTC))
                    if not self._create(marker_key, f"pending {position}".encode()):
                        continue  # another receiver claimed it first: follow its claim
                    self._write_event(event, position, delivered_as)
                    return LandResult(landed=True, position=position)
                position = self._live_position(event.event_id, position, now)
                self._write_event(event, position, delivered_as)
                return LandResult(landed=False, position=position)
            raise LandingError(f"event {event.event_id}: its marker kept changing; retry")

    def _live_position(self, event_id: str, position: str, now: datetime | None) -> str:
        """Where a claimed but unfinished event is (still) to be written.

        Its own position while that is fresh, or once its event object exists (readers
        saw it there). A claim older than ``TAKEOVER_AFTER_SECONDS`` with no event object
        was cut short: readers' cursors may be past it, so the event moves to a new
        position, claimed by a conditional create of ``claims/{eventId}/{old}`` so that
        concurrent redeliveries all follow the same move.
        """
        for _ in range(10):
            if self._get_optional(f"events/{position}.json") is not None:
                return position
            age = (now or datetime.now(UTC)).timestamp() - position_time(position).timestamp()
            if age <= TAKEOVER_AFTER_SECONDS:
                return position
            claim = f"claims/{event_id}/{position}"
            moved = event_position(event_id, now or datetime.now(UTC))
            if not self._create(claim, moved.encode()):
                found = self._get_optional(claim)
                if found is None:
                    raise LandingError(f"event {event_id}: its claim {claim} is not readable yet")
                moved = found.decode()
            self._put(f"ids/{event_id}", f"pending {moved}".encode())
            position = moved
        raise LandingError(f"event {event_id}: too many takeovers; retry")

    def _write_event(self, event: WebhookEvent, position: str, delivered_as: str) -> None:
        """The event object, its indexes, then ``landed``: all idempotent, same bytes."""
        key = f"events/{position}.json"
        if event.source is None:
            record = to_record(event, position_time(position), delivered_as)
            self._put(key, json.dumps(record, separators=(",", ":")).encode())
        else:
            self._stream_record(key, event, position, delivered_as)
        self._write_indexes(event, position)
        self._put(f"ids/{event.event_id}", f"landed {position}".encode())

    def _stream_record(
        self, key: str, event: WebhookEvent, position: str, delivered_as: str
    ) -> None:
        """A large body's record: its payload re-encoded (scrubbed) into a temp file,
        then uploaded as a stream; neither the body nor the record is held in memory."""
        from extend_assets.webhooks.body import write_payload  # ijson: the receiver's extra

        assert event.source is not None
        fields = record_fields(event, position_time(position), delivered_as)
        with tempfile.TemporaryFile() as raw:
            text = io.TextIOWrapper(raw, encoding="utf-8", newline="")
            text.write(json.dumps(fields, separators=(",", ":"))[:-1] + ',"payload":')
            write_payload(event.source, text)
            text.write("}")
            text.flush()
            raw.seek(0)
            self._put_stream(key, raw)
            text.detach()

    def _write_indexes(self, event: WebhookEvent, position: str) -> None:
        if event.run_id:
            self._put(f"by-run/{_key_part(event.run_id)}/{position}", b"")
        if event.batch_id:
            self._put(f"by-batch/{_key_part(event.batch_id)}/{position}", b"")
        if event.batch_id and event.run_id and event.run_status:
            run_key = f"{_key_part(event.run_id)}~{_key_part(event.run_status)}"
            self._put(f"run-status/{_key_part(event.batch_id)}/{run_key}", b"")

    def contains(self, event_id: str) -> bool:
        """True once the event is fully landed."""
        return _read_marker(self._get_optional(f"ids/{event_id}"))[0] == "landed"

    @abstractmethod
    def check(self) -> None:
        """LandingError unless the zone is reachable and writable (called at startup)."""

    def check_conditional_writes(self, probe: str) -> None:
        """LandingError unless creating ``probe`` twice succeeds once: the store honours
        create-if-absent, which replicas rely on to land each event once."""
        if not self._create(probe, b"probe") or self._create(probe, b"probe"):
            raise LandingError(
                f"{self.description} does not honour create-if-absent writes (S3 "
                "If-None-Match: *, or hard links in a directory); receivers sharing it "
                "could land an event twice: use S3 or a POSIX file system"
            )

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
        return self._parsed(position, self._body(position))

    def read_run(self, position: str) -> LandedRun:
        """The event at ``position`` with its payload as JSON text (see :class:`LandedRun`)."""
        body = self._body(position)
        try:
            record = _RECORD.decode(body)
        except msgspec.MsgspecError:  # an unusual record (NaN, odd types): read it whole
            event = self._parsed(position, body)
            return LandedRun(
                position=position,
                event_id=event.event_id,
                event_type=event.event_type,
                api_version=event.api_version,
                run_id=event.run_id,
                batch_id=event.batch_id,
                run_status=event.run_status,
                payload_json=orjson.dumps(event.payload, default=str),
            )
        return LandedRun(
            position=position,
            event_id=record.eventId,
            event_type=record.eventType,
            api_version=record.apiVersion,
            run_id=record.runId,
            batch_id=record.batchId,
            run_status=record.runStatus,
            payload_json=bytes(record.payload),
        )

    def _body(self, position: str) -> bytes:
        body = self._get_optional(f"events/{position}.json")
        if body is None:
            raise LandingError(f"{self.description}: no landed event at position {position}")
        return body

    def _parsed(self, position: str, body: bytes) -> LandedEvent:
        try:
            return LandedEvent.from_record(position, _loads(body))
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

    def count_runs(self, batch_ids: Iterable[str], statuses: Iterable[str]) -> int:
        """How many distinct runs of these batches have an event in one of ``statuses``.

        Exact whatever was delivered or landed twice: one LIST per 1,000 (run, status)
        pairs of the ``run-status`` index, nothing read. Events landed before that index
        existed are not counted (the sensor then confirms such groups through the API).
        """
        wanted = set(statuses)
        runs = 0
        for batch in dict.fromkeys(batch_ids):
            previous = None
            for name in self._list(f"run-status/{_key_part(batch)}/", after=None, limit=None):
                run, _, status = name.rpartition("~")
                if status in wanted and run != previous:  # names sort a run's statuses together
                    runs += 1
                    previous = run
        return runs

    #: Events read at once by :meth:`iter_events_for` / :meth:`iter_runs_for`: one read
    #: is a file (1) or a GetObject, whose round trip is worth overlapping (S3).
    read_workers = 1

    def iter_events_for(
        self,
        *,
        runs: Iterable[str] = (),
        batches: Iterable[str] = (),
        max_workers: int | None = None,
    ) -> Iterator[LandedEvent]:
        """The landed events of these runs and batches, oldest first, once per eventId.

        Only the index is listed up front; events are read as the caller consumes them,
        ``max_workers`` at a time (default :attr:`read_workers`) and a few ahead, so a
        partition's payloads are never all in memory.
        """
        return self._iter_indexed(self.read, runs, batches, max_workers)

    def iter_runs_for(
        self,
        *,
        runs: Iterable[str] = (),
        batches: Iterable[str] = (),
        max_workers: int | None = None,
    ) -> Iterator[LandedRun]:
        """Like :meth:`iter_events_for`, each payload left as JSON text (:class:`LandedRun`)."""
        return self._iter_indexed(self.read_run, runs, batches, max_workers)

    def _iter_indexed(
        self,
        read: Callable[[str], LandedEvent | LandedRun],
        runs: Iterable[str],
        batches: Iterable[str],
        max_workers: int | None,
    ) -> Iterator[Any]:
        positions: set[str] = set()
        for index, ids in (("by-batch", batches), ("by-run", runs)):
            for value in dict.fromkeys(ids):
                positions.update(self._list(f"{index}/{_key_part(value)}/", after=None, limit=None))
        workers = self.read_workers if max_workers is None else max_workers
        seen: set[str] = set()
        for event in _read_in_order(read, sorted(positions), workers):
            if event.event_id not in seen:
                seen.add(event.event_id)
                yield event

    def _indexed(self, index: str, ids: Iterable[str]) -> list[LandedEvent]:
        positions: set[str] = set()
        for value in dict.fromkeys(ids):
            positions.update(self._list(f"{index}/{_key_part(value)}/", after=None, limit=None))
        return _dedupe([self.read(p) for p in sorted(positions)])

    # -- storage primitives -----------------------------------------------------------

    @abstractmethod
    def _put(self, key: str, body: bytes) -> None: ...

    @abstractmethod
    def _put_stream(self, key: str, source: IO[bytes]) -> None:
        """Like ``_put``, reading the body from ``source`` chunk by chunk."""

    @abstractmethod
    def _create(self, key: str, body: bytes) -> bool:
        """Write ``key`` only if it does not exist, atomically; False if it existed."""

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


def _key_part(value: str) -> str:
    return quote(value, safe="-_.")


def _read_marker(body: bytes | None) -> tuple[str, str]:
    if body is None:
        return "absent", ""
    state, _, position = body.decode().partition(" ")
    return state, position


def _read_in_order(read: Callable[[str], T], positions: list[str], workers: int) -> Iterator[T]:
    """``read`` of each position, in order; with ``workers`` > 1 that many reads run in
    threads, at most twice that many ahead of the consumer (memory stays bounded)."""
    if workers <= 1 or len(positions) <= 1:
        yield from map(read, positions)
        return
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="landing-read")
    ahead: deque[Future[T]] = deque()
    todo = iter(positions)
    try:
        for position in itertools.islice(todo, 2 * workers):
            ahead.append(pool.submit(read, position))
        while ahead:
            done = ahead.popleft().result()
            following = next(todo, None)
            if following is not None:
                ahead.append(pool.submit(read, following))
            yield done
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _dedupe(events: list[LandedEvent]) -> list[LandedEvent]:
    seen: set[str] = set()
    unique = []
    for event in events:
        if event.event_id not in seen:
            seen.add(event.event_id)
            unique.append(event)
    return unique


def _loads(body: bytes) -> Any:
    """A landed record: orjson (the runs step reads one per run, ~25 KB each), the
    standard library for what orjson refuses (``NaN``)."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return json.loads(body)
