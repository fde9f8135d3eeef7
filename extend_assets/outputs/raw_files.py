"""Raw runs: gzip JSONL files of at most ``chunk_size`` runs, presigned URLs removed.

Stored in a local directory or on S3 (:mod:`extend_assets.outputs.raw_store`).

The runs table keeps each run's file URI and line (``raw_uri``, ``raw_line``); the tables
read the files back one at a time, so no step holds a partition's raw runs at once.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import orjson

from extend_assets.outputs.raw_store import (
    RAW_FILE_PREFIX,
    RAW_FILE_SUFFIX,
    LocalDirectory,
    RawDirectory,
    RawFileMissing,
    open_raw_file,
    path_of,
    prune_older_directories,
)

RAW_FILE = RAW_FILE_PREFIX + "{:05d}" + RAW_FILE_SUFFIX
__all__ = [
    "RAW_FILE",
    "RawFileMissing",
    "RawRunWriter",
    "iter_raw_file",
    "path_of",
    "prune_older_directories",
    "without_presigned_urls",
]


def without_presigned_urls(raw: dict[str, Any]) -> dict[str, Any]:
    """The run with its files' presigned URLs (credentials, valid for a while) nulled."""
    if not has_presigned_urls(raw):
        return raw
    out = dict(raw)
    out["files"] = _scrub_files(raw.get("files"))
    if isinstance(raw.get("outputs"), list):
        out["outputs"] = [
            {**o, "files": _scrub_files(o.get("files"))} if isinstance(o, dict) else o
            for o in raw["outputs"]
        ]
    return out


def has_presigned_urls(raw: Mapping[str, Any]) -> bool:
    """Whether a file of the run, or of one of its ``outputs``, has a presigned URL."""
    holders = [raw, *(o for o in raw.get("outputs") or [] if isinstance(o, dict))]
    return any(
        isinstance(f, dict) and f.get("presignedUrl") for h in holders for f in h.get("files") or []
    )


def _scrub_files(files: Any) -> Any:
    if not isinstance(files, list):
        return files
    return [{**f, "presignedUrl": None} if isinstance(f, dict) else f for f in files]


class RawRunWriter:
    """Appends raw runs to ``runs-NNNNN.jsonl.gz`` files of at most ``chunk_size`` lines.

    ``directory`` is a local path or a :class:`RawDirectory` (local or S3); a part is
    stored whole when the next one starts or the writer closes.
    """

    def __init__(self, directory: Path | RawDirectory, chunk_size: int) -> None:
        if chunk_size < 1:
            raise ValueError("chunk_size must be at least 1")
        self.directory = (
            directory if isinstance(directory, RawDirectory) else LocalDirectory(directory)
        )
        self.chunk_size = chunk_size
        self.files: list[str] = []
        self.lines = 0
        self._handle: Any = None
        self._name = ""
        self._in_file = 0

    def add(self, raw: Mapping[str, Any]) -> tuple[str, int]:
        """Write one run; its file's URI and its line number (0-based) in that file."""
        # orjson: ~10x the standard library's speed on a ~25 KB run, the same JSON.
        return self.add_line(orjson.dumps(raw, default=str))

    def add_line(self, run_json: bytes) -> tuple[str, int]:
        """Write one run already encoded as JSON (no newline in it); like :meth:`add`."""
        if self._handle is None or self._in_file >= self.chunk_size:
            self._rotate()
        line = self._in_file
        self._handle.write(run_json)
        self._handle.write(b"\n")
        self._in_file += 1
        self.lines += 1
        return self.files[-1], line

    def write_beside(self, name: str, data: bytes) -> None:
        """A small file next to the parts (the extractors list)."""
        self.directory.write_file(name, data)

    def _rotate(self) -> None:
        self._close_file()
        self._name = RAW_FILE.format(len(self.files) + 1)
        self._handle = self.directory.open_part(self._name)
        self._in_file = 0
        self.files.append(self.directory.file_uri(self._name))

    def _close_file(self) -> None:
        if self._handle is not None:
            handle, self._handle = self._handle, None
            self.directory.finish_part(self._name, handle)

    def close(self) -> None:
        try:
            self._close_file()
        finally:
            self.directory.close()

    def __enter__(self) -> RawRunWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def iter_raw_file(uri: str, s3_client: Any = None) -> Iterator[dict[str, Any]]:
    """The runs of one raw file, line by line (streamed, also from S3); RawFileMissing
    when the file is gone."""
    with open_raw_file(uri, s3_client) as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)
