"""Raw runs on disk: gzip JSONL files of at most ``chunk_size`` runs, presigned URLs removed.

The runs table keeps each run's file URI and line (``raw_uri``, ``raw_line``); the tables
read the files back one at a time, so no step holds a partition's raw runs at once.
"""

from __future__ import annotations

import gzip
import json
import shutil
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

RAW_FILE = "runs-{:05d}.jsonl.gz"


def without_presigned_urls(raw: dict[str, Any]) -> dict[str, Any]:
    """The run with its files' presigned URLs (credentials, valid for a while) nulled."""
    holders = [raw, *(o for o in raw.get("outputs") or [] if isinstance(o, dict))]
    if not any(
        isinstance(f, dict) and f.get("presignedUrl") for h in holders for f in h.get("files") or []
    ):
        return raw
    out = dict(raw)
    out["files"] = _scrub_files(raw.get("files"))
    if isinstance(raw.get("outputs"), list):
        out["outputs"] = [
            {**o, "files": _scrub_files(o.get("files"))} if isinstance(o, dict) else o
            for o in raw["outputs"]
        ]
    return out


def _scrub_files(files: Any) -> Any:
    if not isinstance(files, list):
        return files
    return [{**f, "presignedUrl": None} if isinstance(f, dict) else f for f in files]


class RawRunWriter:
    """Appends raw runs to ``runs-NNNNN.jsonl.gz`` files of at most ``chunk_size`` lines."""

    def __init__(self, directory: Path, chunk_size: int) -> None:
        if chunk_size < 1:
            raise ValueError("chunk_size must be at least 1")
        self.directory = directory
        self.chunk_size = chunk_size
        self.files: list[str] = []
        self.lines = 0
        self._handle: Any = None
        self._in_file = 0
        directory.mkdir(parents=True, exist_ok=True)

    def add(self, raw: Mapping[str, Any]) -> tuple[str, int]:
        """Write one run; its file's URI and its line number (0-based) in that file."""
        if self._handle is None or self._in_file >= self.chunk_size:
            self._rotate()
        line = self._in_file
        self._handle.write(json.dumps(raw, default=str, separators=(",", ":")).encode() + b"\n")
        self._in_file += 1
        self.lines += 1
        return self.files[-1], line

    def _rotate(self) -> None:
        self._close_file()
        path = self.directory / RAW_FILE.format(len(self.files) + 1)
        self._handle = gzip.open(path, "wb", compresslevel=1)  # noqa: SIM115 - closed on rotate or close()
        self._in_file = 0
        self.files.append(path.as_uri())

    def _close_file(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def close(self) -> None:
        self._close_file()

    def __enter__(self) -> RawRunWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def path_of(uri: str) -> Path:
    parts = urlsplit(uri)
    if parts.scheme not in ("", "file"):
        raise ValueError(f"raw runs at {uri!r}: only local files (file://) are supported")
    return Path(unquote(parts.path))


def iter_raw_file(uri: str) -> Iterator[dict[str, Any]]:
    with gzip.open(path_of(uri), "rb") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def _is_raw_run_directory(path: Path) -> bool:
    """Only directories this module wrote are ever deleted."""
    return path.is_dir() and (
        any(path.glob("runs-*.jsonl.gz")) or (path / "extractors.json").exists()
    )


def prune_older_directories(current: Path, keep: int) -> list[Path]:
    """Delete the oldest raw-run directories beside ``current`` (the same partition's
    other Dagster runs) so that ``keep`` remain, ``current`` among them; the deleted."""
    if keep < 1:
        raise ValueError("keep must be at least 1")
    others = [p for p in current.parent.iterdir() if p != current and _is_raw_run_directory(p)]
    others.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    doomed = others[keep - 1 :]
    for path in doomed:
        shutil.rmtree(path, ignore_errors=True)
    return doomed
