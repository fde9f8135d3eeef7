"""Streaming a partition's runs: matched to the ledger and written chunk by chunk.

Memory must not grow with the partition, so no step holds every raw run at once:

- :class:`LedgerMatcher` knows, per ledger document, which run it got (ids and status
  only, a few strings per document);
- :class:`RawRunWriter` appends each matched run's raw JSON to gzip JSONL files of at
  most ``chunk_size`` lines under the run's directory; the runs table keeps the file's
  URI and the line (``raw_uri``, ``raw_line``);
- :func:`flatten_in_chunks` reads those files back one file (one chunk) at a time for the
  documents and line-items tables, through a :class:`RawRunReader` (local or S3; a
  missing file's runs are fetched again).

Runs come from two sources, in this order: landed webhook events (``from_events``, no
API call) and GETs for whatever the events did not cover (``gaps``). Both feed
:meth:`RunStream.add`.
"""

from __future__ import annotations

import gc
import hashlib
import itertools
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import numpy as np
import pandas as pd

from extend_assets.client import (
    SUBMISSION_METADATA_KEY,
    SUPPORTED_API_VERSIONS,
    ExtendClient,
    WorkflowRun,
)
from extend_assets.client.errors import (
    ExtendConnectionError,
    ExtendRateLimitedError,
    ExtendResponseError,
    ExtendServerError,
)
from extend_assets.flatten.coerce import TEXT
from extend_assets.outputs.frames import MISSING, run_frame_of
from extend_assets.outputs.matching import source_refs
from extend_assets.outputs.raw_files import RawRunWriter
from extend_assets.outputs.raw_reader import Decode, RawRunReader
from extend_assets.outputs.raw_store import EXTRACTORS_FILE, directory_of
from extend_assets.outputs.run_lines import RunHead, RunLine, decode_landed, encode_run
from extend_assets.outputs.schema_union import (
    Extractor,
    WorkflowSchema,
    extractor_key,
    extractors_seen,
)
from extend_assets.outputs.table_view import table_view
from extend_assets.submission.ledger_table import partition_date

TRANSIENT_ERRORS = (
    ExtendConnectionError,
    ExtendRateLimitedError,
    ExtendResponseError,
    ExtendServerError,
)
# Statuses a landed event may carry for a run that is done for now.
# API versions whose landed payloads :func:`run_from_event` parses; events of another
# version still settle partitions in the sensor, but their runs are fetched by GET.
PARSED_VERSIONS = frozenset(SUPPORTED_API_VERSIONS)
SETTLED_STATUSES = frozenset({"PROCESSED", "FAILED", "REJECTED", "CANCELLED", "NEEDS_REVIEW"})
K = TypeVar("K", str, bytes)


class LandedEventLike(Protocol):
    """The part of ``extend_assets.webhooks.LandedEvent`` read here."""

    @property
    def run_id(self) -> str | None: ...

    @property
    def run_status(self) -> str | None: ...

    @property
    def api_version(self) -> str: ...

    @property
    def payload(self) -> dict[str, Any]: ...


def run_from_event(event: LandedEventLike) -> WorkflowRun:
    """The WorkflowRun a landed event carries, in the API version of its endpoint.

    A run event's payload is the run as ``GET /workflow_runs/{id}`` returns it in that
    version; the client reads both versions into one model (and ``raw`` keeps the wire
    JSON, which the flattening reads in either version).
    """
    return WorkflowRun.from_json(event.payload, event.api_version)


def line_of_event(event: LandedEventLike) -> RunLine:
    """The run an event carries, ready to write: from its payload's JSON text when the
    event keeps it (``payload_json``, see :mod:`~extend_assets.outputs.run_lines`),
    else (or for an unusual payload) read whole by :func:`run_from_event`."""
    payload_json = getattr(event, "payload_json", None)
    if isinstance(payload_json, bytes):
        found = decode_landed(payload_json)
        if found is not None:
            return found
    return encode_run(run_from_event(event))


def identity_of(metadata: Mapping[str, Any]) -> tuple[str, str, str, str] | None:
    """(bucket, key, etag, submission id) of a run, from the metadata we put on it."""
    submission = str(metadata.get(SUBMISSION_METADATA_KEY, ""))
    if "bucket" in metadata:
        return (
            str(metadata.get("bucket")),
            str(metadata.get("key")),
            str(metadata.get("etag")),
            submission,
        )
    if "source_id" in metadata:
        return (str(metadata.get("source")), str(metadata.get("source_id")), "", submission)
    return None


#: Ledger rows read into Python at once while the matcher is built.
MATCHER_READ_ROWS = 10_000


class LedgerMatcher:
    """Exactly one row per ledger document: the first run seen for it, else MISSING.

    Held by column, not as a dict per row: the ledger's own columns are kept as they
    were loaded (Arrow-backed text), and per row only what a run fills in (its id,
    status, batch, file and line) and one lookup key (~250 bytes a document instead of
    ~1.2 KB of dicts, tuples and strings).
    """

    _READ = ("partition", "bucket", "key", "etag", "submission_id", "batch_id", "run_id")

    def __init__(self, ledger: pd.DataFrame) -> None:
        self._ledger = {name: ledger[name].array for name in self._READ[:-1]}
        count = len(ledger)
        self._dates: list[Any] = []  # each partition's date parsed once, shared by its rows
        self._run_ids: list[str | None] = [None] * count
        self._statuses: list[str] = [MISSING] * count
        self._batch_ids: list[str | None] = [None] * count  # a run's batch, when it has one
        self._uris: list[str | None] = [None] * count
        self._lines: list[int | None] = [None] * count
        self._names: dict[str, str] = {}  # one string per distinct status and batch id
        self._by_run: dict[str, int | list[int]] = {}
        self._by_document: dict[bytes, int | list[int]] = {}
        dates: dict[str, Any] = {}
        read = ["partition", "bucket", "key", "etag", "submission_id", "run_id"]
        for start in range(0, count, MATCHER_READ_ROWS):  # a slice's strings at a time
            part = ledger.iloc[start : start + MATCHER_READ_ROWS]
            columns = [part[name].tolist() for name in read]
            for index, (partition, bucket, key, etag, submission, run_id) in enumerate(
                zip(*columns, strict=True), start
            ):
                text = str(partition)
                if text not in dates:
                    dates[text] = partition_date(text)
                self._dates.append(dates[text])
                if isinstance(run_id, str):
                    _index(self._by_run, run_id, index)
                else:
                    is_text = str(bucket).startswith("text:")
                    identity = (
                        str(bucket),
                        str(key),
                        "" if is_text else str(etag),
                        str(submission),
                    )
                    _index(self._by_document, _identity_key(identity), index)
            del columns, part

    def open_rows(self, run: RunHead) -> list[int]:
        """The unfilled ledger rows this run belongs to (none: not ours, or already filled)."""
        found = self._by_run.get(run.id)
        if found is None:
            identity = identity_of(run.metadata or {})
            found = self._by_document.get(_identity_key(identity)) if identity else None
        if found is None:
            return []
        rows = [found] if isinstance(found, int) else found
        return [i for i in rows if self._run_ids[i] is None]

    def fill(
        self, rows: Sequence[int], run: RunHead, uri: str, line: int, run_id: str | None = None
    ) -> None:
        """``run`` in these rows; ``run_id``: its id as a string object already held."""
        run_id = run.id if run_id is None else run_id
        status = self._name(str(run.status))
        batch_id = self._name(run.batch_id) if run.batch_id else None  # ~100 a partition
        for i in rows:
            self._run_ids[i] = run_id
            self._statuses[i] = status
            self._batch_ids[i] = batch_id
            self._uris[i] = uri
            self._lines[i] = line

    def _name(self, text: str) -> str:
        """One string object for every equal ``text`` (a status, a batch id)."""
        return self._names.setdefault(text, text)

    def frame(self) -> pd.DataFrame:
        """The runs table's rows (:func:`~extend_assets.outputs.frames.run_frame` of
        :attr:`rows`), built from the columns."""
        ledger = self._ledger
        batch = pd.Series(ledger["batch_id"]).astype(TEXT)
        taken = np.fromiter((b is not None for b in self._batch_ids), bool, len(batch))
        if taken.any():
            batch = batch.where(~taken, pd.Series(self._batch_ids, dtype=object).astype(TEXT))
        columns: dict[str, Any] = {
            **{name: ledger[name] for name in ("partition", "bucket", "key", "etag")},
            "partition_date": self._dates,
            "submission_id": ledger["submission_id"],
            "batch_id": batch.array,
            "run_id": self._run_ids,
            "status": self._statuses,
            "raw_uri": self._uris,
            "raw_line": self._lines,
        }
        return run_frame_of(columns)

    @property
    def rows(self) -> list[dict[str, Any]]:
        """One dict per ledger row, as the runs table holds it (for inspection; the
        step builds its table with :meth:`frame`)."""
        ledger = {name: list(values) for name, values in self._ledger.items()}
        return [
            {
                "partition": ledger["partition"][i],
                "partition_date": self._dates[i],
                "bucket": ledger["bucket"][i],
                "key": ledger["key"][i],
                "etag": ledger["etag"][i],
                "submission_id": ledger["submission_id"][i],
                "batch_id": self._batch_ids[i] or ledger["batch_id"][i],
                "run_id": self._run_ids[i],
                "status": self._statuses[i],
                "raw_uri": self._uris[i],
                "raw_line": self._lines[i],
            }
            for i in range(len(self._run_ids))
        ]

    @property
    def filled(self) -> int:
        return sum(1 for run_id in self._run_ids if run_id is not None)


def _identity_key(identity: tuple[str, str, str, str]) -> bytes:
    """A document's identity as a 16-byte digest (49 bytes a key instead of a string of
    its four parts, ~100 to 200).

    The key only finds a run's ledger rows again, so it must differ between identities:
    the parts joined by NUL (found in none of them) are one text per identity, and two
    texts sharing a 128-bit BLAKE2b digest is a chance of about n^2 / 2^129 among n
    documents (below 1e-26 for a million), far below any hardware error.
    """
    return hashlib.blake2b("\x00".join(identity).encode(), digest_size=16).digest()


def _index(index: dict[K, int | list[int]], key: K, row: int) -> None:
    """``row`` under ``key``: an int, a list once a key has several rows."""
    found = index.get(key)
    if found is None:
        index[key] = row
    elif isinstance(found, int):
        index[key] = [found, row]
    else:
        found.append(row)


@dataclass
class StreamCounts:
    from_events: int = 0
    """Runs taken from landed events (no API call)."""
    fetched: int = 0
    """Runs fetched with GET /workflow_runs/{id} (polling mode, or the gaps events left)."""
    not_ours: int = 0
    """Runs read that belong to no ledger row of these partitions (batches span days)."""
    stale_events: int = 0
    """Events skipped because the run's status has moved on since (a newer event or GET wins)."""
    retried: int = 0
    """GETs that failed after the client's retries and were asked once more."""
    unparsed_events: int = 0
    """Events of an API version whose payload is not parsed yet (their runs are fetched)."""
    chunks: list[int] = field(default_factory=list)
    """Runs handled per chunk, in order."""


class RunStream:
    """Takes runs one chunk at a time, writes the ones of the ledger, forgets their JSON."""

    def __init__(self, matcher: LedgerMatcher, writer: RawRunWriter) -> None:
        self.matcher = matcher
        self.writer = writer
        self.counts = StreamCounts()
        self.done: dict[str, str] = {}  # each run id taken, to itself: see _taken
        self._extractors: dict[bytes, Extractor] = {}
        self._extractors_keys: set[bytes] = set()  # RunLine.extractors_key of runs merged

    def add(self, runs: Iterable[WorkflowRun], *, from_events: bool) -> int:
        """Write the runs that fill ledger rows; the number written."""
        return self._write((encode_run(run) for run in runs), from_events=from_events)

    def _write(self, runs: Iterable[RunLine], *, from_events: bool) -> int:
        written = handled = 0
        for run in runs:
            handled += 1
            run_id = self._taken(run.head.id)
            rows = self.matcher.open_rows(run.head)
            if not rows:
                self.counts.not_ours += 1
                continue
            uri, line = self.writer.add_line(run.line)
            key = run.extractors_key
            if key is None or key not in self._extractors_keys:
                for name, schema in run.extractors():
                    self._extractors.setdefault(extractor_key(name, schema), (name, schema))
                if key is not None:
                    self._extractors_keys.add(key)
            self.matcher.fill(rows, run.head, uri, line, run_id)
            written += 1
            if from_events:
                self.counts.from_events += 1
            else:
                self.counts.fetched += 1
        if handled:
            self.counts.chunks.append(handled)
        return written

    def _taken(self, run_id: str) -> str:
        """``run_id`` marked done; the string object :attr:`done` keeps for it, which the
        ledger rows it fills share (not one more string per run)."""
        return self.done.setdefault(run_id, run_id)

    @property
    def extractors(self) -> list[Extractor]:
        """Every distinct (extractor, schema) of the runs written, in order of appearance."""
        return list(self._extractors.values())

    def save_extractors(self) -> None:
        """Beside the raw files, so the tables need not read every run to learn them."""
        text = json.dumps([list(e) for e in self.extractors], default=str)
        self.writer.write_beside(EXTRACTORS_FILE, text.encode())

    def take_events(
        self,
        events: Iterable[LandedEventLike],
        wanted: Mapping[str, str | None],
        chunk_size: int,
    ) -> None:
        """Runs from landed events, chunk by chunk.

        ``wanted`` maps each run id to its status as listed now (None: not listed, e.g.
        created one by one). An event is taken when it says the run is where the listing
        says it is (a needs_review event of a run reviewed since is stale: its run is
        fetched instead); for unlisted runs, any settled event. Duplicates of a run
        (another event, a redelivery) are skipped once the run is written.
        """
        fresh = self._fresh_runs(events, wanted)
        while True:
            with cyclic_gc_paused():  # each chunk's events are parsed and written
                chunk = list(itertools.islice(fresh, chunk_size))
                if not chunk:
                    return
                self._write(chunk, from_events=True)
                del chunk

    def _fresh_runs(
        self, events: Iterable[LandedEventLike], wanted: Mapping[str, str | None]
    ) -> Iterator[RunLine]:
        """The runs of the events :meth:`take_events` takes, each run once."""
        for event in events:
            run_id = event.run_id
            if not run_id or run_id in self.done or run_id not in wanted:
                continue
            if event.api_version not in PARSED_VERSIONS:
                self.counts.unparsed_events += 1
                continue
            listed = wanted[run_id]
            status = event.run_status
            if (listed is not None and status != listed) or status not in SETTLED_STATUSES:
                self.counts.stale_events += 1
                continue
            self._taken(run_id)
            yield line_of_event(event)

    def fetch_gaps(
        self,
        client: ExtendClient,
        wanted: Iterable[str],
        *,
        chunk_size: int,
        max_workers: int = 16,
        progress: Callable[[int, int], None] | None = None,
    ) -> None:
        """GET every wanted run not yet taken, ``chunk_size`` at a time, concurrently.

        A GET that still fails after the client's own retries (a 429 burst, a run of 5xx)
        is asked once more, alone, after its chunk; a second failure raises.
        """
        gaps = [run_id for run_id in wanted if run_id not in self.done]
        total = len(gaps)
        if not total:
            return

        def get(run_id: str) -> WorkflowRun | None:
            try:
                return client.get_workflow_run(run_id)
            except TRANSIENT_ERRORS:
                return None

        with ThreadPoolExecutor(max_workers=max(1, min(max_workers, total))) as pool:
            for start in range(0, total, chunk_size):
                ids = gaps[start : start + chunk_size]
                runs = list(pool.map(get, ids))
                again = [run_id for run_id, run in zip(ids, runs, strict=True) if run is None]
                fetched = [run for run in runs if run is not None]
                fetched += [client.get_workflow_run(run_id) for run_id in again]
                self.counts.retried += len(again)
                with cyclic_gc_paused():
                    self.add(fetched, from_events=False)
                if progress is not None:
                    progress(min(start + chunk_size, total), total)


def listed_statuses(
    client: ExtendClient, batch_ids: Iterable[str], *, max_workers: int = 1
) -> dict[str, str | None]:
    """Every run of the batches with its current status: ceil(runs / 1000) list calls each,
    ``max_workers`` batches at a time (a batch holds at most 1,000 runs: one page, one
    round trip, which a partition of 100 batches would otherwise wait for 100 times)."""

    def statuses(batch_id: str) -> list[tuple[str, str]]:
        return [
            (summary.id, str(summary.status))
            for summary in client.list_workflow_runs(
                batch_id=batch_id, sort_by="createdAt", sort_dir="asc", page_size=1000
            )  # createdAt never changes: each run once even while others change status
        ]

    batches = list(batch_ids)
    found: dict[str, str | None] = {}
    names: dict[str, str] = {}  # one string per distinct status, not one per run
    with ThreadPoolExecutor(max_workers=max(1, min(max_workers, len(batches)))) as pool:
        for listed in pool.map(statuses, batches):  # in the batches' order, as one by one
            for run_id, status in listed:
                found.setdefault(run_id, names.setdefault(status, status))
    return found


FlattenFn = Callable[..., pd.DataFrame]


def raw_uris(runs_frame: pd.DataFrame) -> list[str]:
    """The raw-run files of a runs table, in order, once each."""
    if "raw_uri" not in runs_frame.columns:
        return []
    # unique() keeps the order of first appearance, without a Python string per run
    # (nor a copy of the column, as dropna() first would make)
    return [str(u) for u in runs_frame["raw_uri"].unique() if not pd.isna(u)]


def extractors_of(runs_frame: pd.DataFrame, reader: RawRunReader | None = None) -> list[Extractor]:
    """The (extractor, schema) pairs of a runs table's raw runs: from the list the runs
    step saved beside its files, else (files written another way, or gone) by reading
    the runs."""
    reader = reader if reader is not None else RawRunReader(runs_frame)
    found: dict[bytes, Extractor] = {}
    by_directory: dict[str, list[str]] = {}
    for uri in raw_uris(runs_frame):
        by_directory.setdefault(directory_of(uri), []).append(uri)
    for uris in by_directory.values():
        saved = reader.read_beside(uris[0], EXTRACTORS_FILE)
        if saved is not None:
            pairs: list[Extractor] = [(str(n), s) for n, s in json.loads(saved)]
        else:
            pairs = extractors_seen(run for uri in uris for run in reader.iter_file(uri))
        for name, schema in pairs:
            found.setdefault(extractor_key(name, schema), (name, schema))
    return list(found.values())


@contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """Python's cycle collector off while one chunk of raw runs is parsed and flattened.

    Parsed JSON holds no reference cycles, so the collector finds nothing to free, yet
    the hundreds of thousands of dicts and strings one chunk allocates set it off again
    and again, each time walking every object the process holds (Dagster's included):
    that walking was more than half of a table step's time. Memory is freed as before,
    by reference counting.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


#: Runs flattened at once: the per-call cost of building typed columns (a few pandas
#: calls per column) is paid once per this many runs instead of once per raw file. The
#: runs are decoded for the tables only (:func:`table_view`), a fraction of a whole run.
FLATTEN_RUNS = 1000
_NO_ROWS = np.empty(0, dtype=np.intp)


def _batches(
    uris: Sequence[str], rows_of: Mapping[Any, Any], batch_runs: int
) -> Iterator[list[str]]:
    """Consecutive files of about ``batch_runs`` runs together (their ledger rows counted)."""
    batch: list[str] = []
    runs = 0
    for uri in uris:
        batch.append(uri)
        runs += len(rows_of.get(uri, _NO_ROWS))
        if runs >= batch_runs:
            yield batch
            batch, runs = [], 0
    if batch:
        yield batch


def flatten_in_chunks(
    runs_frame: pd.DataFrame,
    flatten_fn: FlattenFn,
    schema: WorkflowSchema,
    *,
    on_chunk: Callable[[int], None] | None = None,
    reader: RawRunReader | None = None,
    batch_runs: int = FLATTEN_RUNS,
) -> pd.DataFrame:
    """``flatten_fn`` over the raw runs of ``runs_frame``, a few files at a time, the
    batches' frames (:func:`flatten_batches`) concatenated at the end."""
    errors: dict[str, int] = {}
    frames = list(
        _flattened(runs_frame, flatten_fn, schema, on_chunk, reader, batch_runs=batch_runs)
    )
    if not frames:
        return flatten_fn([], sources={}, schema=schema.as_json_schema())
    for frame in frames:
        for column, count in frame.attrs.get("coercion_errors_by_column", {}).items():
            errors[column] = errors.get(column, 0) + count
    out = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    out.attrs["coercion_errors"] = sum(errors.values())
    out.attrs["coercion_errors_by_column"] = errors
    return out


def flatten_batches(
    runs_frame: pd.DataFrame,
    flatten_fn: FlattenFn,
    schema: WorkflowSchema,
    *,
    on_chunk: Callable[[int], None] | None = None,
    reader: RawRunReader | None = None,
    batch_runs: int = FLATTEN_RUNS,
    view: Decode = table_view,
) -> Iterator[pd.DataFrame]:
    """``flatten_fn`` over the raw runs of ``runs_frame``, one frame per batch of files.

    Only the runs of about ``batch_runs`` (whole files) are in memory at once, decoded
    for the tables (:func:`~extend_assets.outputs.table_view.table_view`). Every batch
    follows the workflow's schema (the union over its extractors), each run rewritten
    for the fields that union renamed, so their columns agree. ``reader`` reads the
    files (S3, refetching missing ones); default: local only. ``on_chunk`` is told the
    runs of each file read. ``view`` decodes each run (default: what every table reads;
    the documents table has a narrower one). No runs: one frame, ``flatten_fn`` of none.
    """
    any_batch = False
    for frame in _flattened(runs_frame, flatten_fn, schema, on_chunk, reader, batch_runs, view):
        any_batch = True
        yield frame
    if not any_batch:
        yield flatten_fn([], sources={}, schema=schema.as_json_schema())


def _flattened(
    runs_frame: pd.DataFrame,
    flatten_fn: FlattenFn,
    schema: WorkflowSchema,
    on_chunk: Callable[[int], None] | None,
    reader: RawRunReader | None,
    batch_runs: int,
    view: Decode = table_view,
) -> Iterator[pd.DataFrame]:
    reader = reader if reader is not None else RawRunReader(runs_frame)
    uris = raw_uris(runs_frame)
    # Each file's ledger rows, so a batch's sources are built with it, not all up front.
    rows_of = runs_frame.groupby("raw_uri", sort=False).indices if uris else {}
    json_schema = schema.as_json_schema()
    for batch in _batches(uris, rows_of, batch_runs):
        with cyclic_gc_paused():
            runs: list[Any] = []
            for uri in batch:
                read = [schema.rewrite(raw) for raw in reader.iter_file(uri, decode=view)]
                runs += read
                if on_chunk is not None:
                    on_chunk(len(read))
            rows = np.concatenate([rows_of.get(uri, _NO_ROWS) for uri in batch])
            frame = flatten_fn(runs, sources=source_refs(runs_frame.iloc[rows]), schema=json_schema)
            del runs, read  # freed by reference counting, before the collector runs again
        yield frame
        del frame
