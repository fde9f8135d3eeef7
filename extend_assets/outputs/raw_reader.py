"""Reading a runs table's raw files back, where a missing file is never fatal.

A raw file can be gone when the tables are built: written on another container's local
disk (a retry, "re-execute from failure", a step-per-container executor, the documents
table re-materialized alone a day later), or deleted by retention. Its runs are then
fetched again (see :mod:`extend_assets.outputs.refetch`) into a local spool file, once
per file and step, and read from there: the extractors pass and the flatten pass share
it, and memory stays bounded by one file's runs.
"""

from __future__ import annotations

import gzip
import io
import json
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson
import pandas as pd

from extend_assets.outputs.raw_store import RawFileMissing, open_raw_file, read_beside

#: Decompressed bytes read at once: gzip's own reads are small (8 KiB), and a raw
#: file's lines are ~25 KB each.
READ_BUFFER = 1 << 20

Decode = Callable[[bytes], Any]

# (run id, status recorded in the runs table) -> the raw runs, in any order
Refetch = Callable[[Sequence[tuple[str, str | None]]], Iterable[Mapping[str, Any]]]


class RawRunReader:
    """The raw runs of a runs table, file by file, from wherever they are."""

    def __init__(
        self,
        runs_frame: pd.DataFrame,
        *,
        s3_client: Any = None,
        refetch: Refetch | None = None,
    ) -> None:
        self.s3_client = s3_client
        self.refetch = refetch
        self.missing_files: list[str] = []
        self.refetched = 0
        # Which runs a file holds is asked only when the file is gone (rare): looked up
        # then, not kept for every run (~25 MiB of strings at 100,000 runs).
        has_runs = {"raw_uri", "run_id"} <= set(runs_frame.columns)
        self._runs_frame = runs_frame if has_runs else None
        self._scratch: tempfile.TemporaryDirectory[str] | None = None
        self._spooled: dict[str, Path] = {}

    def iter_file(self, uri: str, decode: Decode | None = None) -> Iterator[dict[str, Any]]:
        """The runs of the raw file ``uri``; fetched again if the file is gone.

        ``decode`` turns one line into a run (default: :func:`parse_line`, the whole run).
        """
        decode = decode if decode is not None else parse_line
        spooled = self._spooled.get(uri)
        if spooled is None:
            try:
                handle = open_raw_file(uri, self.s3_client)
            except RawFileMissing:
                spooled = self._spool(uri)
            else:
                with handle:
                    yield from _lines(handle, decode)
                return
        with gzip.open(spooled, "rb") as handle:
            yield from _lines(handle, decode)

    def read_beside(self, uri: str, name: str) -> bytes | None:
        return read_beside(uri, name, self.s3_client)

    def _runs_of(self, uri: str) -> dict[str, str | None]:
        return _runs_in(self._runs_frame, uri) if self._runs_frame is not None else {}

    def _spool(self, uri: str) -> Path:
        wanted = list(self._runs_of(uri).items())
        if self.refetch is None:
            raise RawFileMissing(
                f"raw runs file {uri} is gone and no way to fetch its {len(wanted)} run(s) "
                "again was given"
            )
        if self._scratch is None:
            self._scratch = tempfile.TemporaryDirectory(prefix="extend-refetch-")
        path = Path(self._scratch.name) / f"{len(self._spooled):05d}.jsonl.gz"
        got = 0
        with gzip.open(path, "wb", compresslevel=1) as out:
            for raw in self.refetch(wanted):
                out.write(json.dumps(raw, default=str, separators=(",", ":")).encode() + b"\n")
                got += 1
        self.missing_files.append(uri)
        self.refetched += got
        self._spooled[uri] = path
        return path

    def close(self) -> None:
        if self._scratch is not None:
            self._scratch.cleanup()
            self._scratch = None
        self._spooled.clear()

    def __enter__(self) -> RawRunReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _runs_in(runs_frame: pd.DataFrame, uri: str) -> dict[str, str | None]:
    """The run ids the runs table records in the raw file ``uri``, with their statuses."""
    rows = runs_frame[(runs_frame["raw_uri"].astype(object) == uri).to_numpy(dtype=bool)]
    statuses = _values(rows["status"]) if "status" in rows.columns else [None] * len(rows)
    found: dict[str, str | None] = {}
    for run_id, status in zip(_values(rows["run_id"]), statuses, strict=True):
        if isinstance(run_id, str):
            recorded = None if status is None or pd.isna(status) else str(status)
            found.setdefault(run_id, recorded)
    return found


def _values(column: pd.Series) -> list[Any]:
    """A column as Python objects at once (iterating Arrow-backed text goes value by value)."""
    return column.astype(object).tolist()


def _lines(handle: Any, decode: Decode) -> Iterator[dict[str, Any]]:
    for line in io.BufferedReader(handle, READ_BUFFER):
        if line.strip():
            yield decode(line)


def parse_line(line: bytes) -> Any:
    """One JSON line: orjson (parsing is most of a table step's time; orjson is ~2x
    faster), the standard library for what orjson refuses and Python's ``json`` writes
    (``NaN``, integers beyond 64 bits)."""
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:
        return json.loads(line)
