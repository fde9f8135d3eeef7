"""Where raw runs live: a local directory or ``s3://bucket/prefix``, behind one interface.

Layout under the root (``raw_runs_dir``), the same on both::

    {workflow name}/{partition}/{Dagster run id}/runs-00001.jsonl.gz ...
                                                 extractors.json

A :class:`RawDirectory` is one Dagster run's directory. Local files are written in
place; on S3 each gzip part is written to a local temporary file and uploaded when it
is complete (``upload_file``: multipart above 8 MB), so memory stays bounded and a
reader never sees half a part. Reads stream (``get_object`` body through gzip, line by
line). The S3 client is passed in (the Dagster layer builds it from the
``S3DocumentSource`` resource); nothing here imports Dagster.

Retention (:func:`prune_older_directories`, :func:`expire_directories`) only ever
deletes directories holding files this package wrote.
"""

from __future__ import annotations

import contextlib
import gzip
import os
import shutil
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from isal import igzip

RAW_FILE_PREFIX = "runs-"
RAW_FILE_SUFFIX = ".jsonl.gz"
EXTRACTORS_FILE = "extractors.json"  # the (extractor, schema) pairs of the runs written
_OURS = (EXTRACTORS_FILE,)


class RawFileMissing(FileNotFoundError):
    """A raw-run file (or the file beside it) is not there: another container's local
    disk, or deleted by retention. The readers fetch its runs again."""


class RawLocationError(ValueError):
    """``raw_runs_dir`` names a place raw runs cannot be stored."""


@dataclass(frozen=True)
class RawRoot:
    """A parsed ``raw_runs_dir``: an S3 bucket and key prefix, or a local path."""

    bucket: str | None = None
    prefix: str = ""
    path: Path | None = None

    @property
    def is_s3(self) -> bool:
        return self.bucket is not None

    @property
    def uri(self) -> str:
        if self.bucket is not None:
            return f"s3://{self.bucket}/{self.prefix}"
        assert self.path is not None
        return self.path.as_uri()


def parse_raw_root(value: str) -> RawRoot:
    """``s3://BUCKET/PREFIX``, ``file:///path`` or a local path; RawLocationError otherwise."""
    if value[:5].lower() == "s3://":
        bucket, _, prefix = value[len("s3://") :].partition("/")
        if not bucket:
            raise RawLocationError("has no bucket.")
        prefix = prefix.strip("/")
        return RawRoot(bucket=bucket, prefix=prefix + "/" if prefix else "")
    parts = urlsplit(value)
    if "://" in value and parts.scheme != "file":
        raise RawLocationError(f"uses the scheme {parts.scheme}://, which is not supported.")
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise RawLocationError("is a file:// URI with a host; only local paths work.")
        value = unquote(parts.path)
    if not value.strip():
        raise RawLocationError("is empty.")
    return RawRoot(path=Path(value).expanduser().resolve())


def split_s3_uri(uri: str) -> tuple[str, str]:
    bucket, _, key = uri[len("s3://") :].partition("/")
    return bucket, key


def path_of(uri: str) -> Path:
    """The local path of a ``file://`` URI (or a plain path)."""
    parts = urlsplit(uri)
    if parts.scheme not in ("", "file"):
        raise ValueError(f"raw runs at {uri!r}: not a local file (file://)")
    return Path(unquote(parts.path))


def _need_client(s3_client: Any, uri: str) -> Any:
    if s3_client is None:
        raise ValueError(f"raw runs at {uri}: an S3 client is needed to read s3:// files")
    return s3_client


def _aws_code(error: Exception) -> str:
    response = getattr(error, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""


_MISSING_CODES = frozenset({"NoSuchKey", "404", "NotFound"})


# -- reading by URI (the runs table keeps each run's file URI) ----------------------------


def open_raw_file(uri: str, s3_client: Any = None) -> gzip.GzipFile:
    """A binary stream of a raw file's decompressed bytes; RawFileMissing if it is gone.

    ISA-L's igzip inflates any gzip file (also ones written by zlib) about twice as
    fast as the standard module."""
    if uri.startswith("s3://"):
        bucket, key = split_s3_uri(uri)
        try:
            body = _need_client(s3_client, uri).get_object(Bucket=bucket, Key=key)["Body"]
        except Exception as error:
            if _aws_code(error) in _MISSING_CODES:
                raise RawFileMissing(uri) from None
            raise
        return igzip.IGzipFile(fileobj=body, mode="rb")
    try:
        return igzip.IGzipFile(path_of(uri), "rb")
    except FileNotFoundError:
        raise RawFileMissing(uri) from None


def read_beside(uri: str, name: str, s3_client: Any = None) -> bytes | None:
    """The file ``name`` in the directory of the raw file ``uri``; None if it is not there."""
    if uri.startswith("s3://"):
        bucket, key = split_s3_uri(uri)
        sibling = key.rsplit("/", 1)[0] + "/" + name if "/" in key else name
        try:
            answer = _need_client(s3_client, uri).get_object(Bucket=bucket, Key=sibling)
        except Exception as error:
            if _aws_code(error) in _MISSING_CODES:
                return None
            raise
        data: bytes = answer["Body"].read()
        return data
    try:
        return (path_of(uri).parent / name).read_bytes()
    except FileNotFoundError:
        return None


def directory_of(uri: str) -> str:
    """The URI of the directory holding ``uri``."""
    return uri.rsplit("/", 1)[0]


# -- one Dagster run's directory ----------------------------------------------------------


class RawDirectory(ABC):
    """One Dagster run's raw-run directory: parts are opened, filled, then finished."""

    uri: str

    @abstractmethod
    def file_uri(self, name: str) -> str: ...

    @abstractmethod
    def open_part(self, name: str) -> gzip.GzipFile:
        """A gzip stream to write the part ``name`` to; :meth:`finish_part` stores it."""

    @abstractmethod
    def finish_part(self, name: str, handle: gzip.GzipFile) -> None: ...

    @abstractmethod
    def write_file(self, name: str, data: bytes) -> None: ...

    def close(self) -> None:  # noqa: B027 - nothing to release for local files
        """Release local scratch space."""


def _gzip_writer(path: Path) -> gzip.GzipFile:
    """A part's gzip stream: ISA-L's (igzip, level 1), standard gzip that any reader
    reads, compressed ~8x faster than zlib's level 1 (the runs step's largest cost
    once runs are no longer parsed and encoded again) and about as small."""
    return igzip.IGzipFile(path, "wb", compresslevel=1)


class LocalDirectory(RawDirectory):
    def __init__(self, path: Path) -> None:
        self.path = path
        self.uri = path.resolve().as_uri()
        path.mkdir(parents=True, exist_ok=True)

    def file_uri(self, name: str) -> str:
        return (self.path / name).resolve().as_uri()

    def open_part(self, name: str) -> gzip.GzipFile:
        return _gzip_writer(self.path / name)

    def finish_part(self, name: str, handle: gzip.GzipFile) -> None:
        handle.close()

    def write_file(self, name: str, data: bytes) -> None:
        (self.path / name).write_bytes(data)


class S3Directory(RawDirectory):
    """``s3://bucket/key_prefix/``: parts written to a temporary file, then uploaded."""

    def __init__(self, client: Any, bucket: str, key_prefix: str) -> None:
        self.client = client
        self.bucket = bucket
        self.key_prefix = key_prefix.strip("/") + "/"
        self.uri = f"s3://{bucket}/{self.key_prefix}".rstrip("/")
        self._scratch = tempfile.TemporaryDirectory(prefix="extend-raw-")

    def file_uri(self, name: str) -> str:
        return f"s3://{self.bucket}/{self.key_prefix}{name}"

    def open_part(self, name: str) -> gzip.GzipFile:
        return _gzip_writer(Path(self._scratch.name) / name)

    def finish_part(self, name: str, handle: gzip.GzipFile) -> None:
        handle.close()
        local = Path(self._scratch.name) / name
        try:
            self.client.upload_file(str(local), self.bucket, self.key_prefix + name)
        finally:
            local.unlink(missing_ok=True)

    def write_file(self, name: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self.key_prefix + name, Body=data)

    def close(self) -> None:
        self._scratch.cleanup()


def open_directory(root: RawRoot, relative: str, s3_client: Any = None) -> RawDirectory:
    """The directory ``relative`` (``name/partition/run_id``) under ``root``."""
    if root.bucket is not None:
        return S3Directory(_need_client(s3_client, root.uri), root.bucket, root.prefix + relative)
    assert root.path is not None
    return LocalDirectory(root.path / relative)


# -- retention ----------------------------------------------------------------------------


def _is_ours(name: str) -> bool:
    return name in _OURS or (name.startswith(RAW_FILE_PREFIX) and name.endswith(RAW_FILE_SUFFIX))


def _local_run_directories(parent: Path) -> dict[Path, float]:
    """The raw-run directories directly under ``parent``, with their mtime."""
    found: dict[Path, float] = {}
    if not parent.is_dir():
        return found
    for path in parent.iterdir():
        if path.is_dir() and any(_is_ours(child.name) for child in path.iterdir()):
            found[path] = path.stat().st_mtime
    return found


def _s3_run_directories(client: Any, bucket: str, prefix: str, depth: int) -> dict[str, float]:
    """Directory key prefixes ``depth`` levels under ``prefix`` that hold our files, each
    with its newest object's time (one listing, paginated)."""
    found: dict[str, float] = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            parts = item["Key"][len(prefix) :].split("/")
            if len(parts) != depth + 1 or not _is_ours(parts[-1]):
                continue
            directory = prefix + "/".join(parts[:-1]) + "/"
            stamp = item["LastModified"].timestamp()
            found[directory] = max(stamp, found.get(directory, 0.0))
    return found


def _s3_delete_prefixes(client: Any, bucket: str, prefixes: list[str]) -> None:
    for prefix in prefixes:
        keys = [
            {"Key": item["Key"]}
            for page in client.get_paginator("list_objects_v2").paginate(
                Bucket=bucket, Prefix=prefix
            )
            for item in page.get("Contents", [])
        ]
        for start in range(0, len(keys), 1000):
            client.delete_objects(
                Bucket=bucket, Delete={"Objects": keys[start : start + 1000], "Quiet": True}
            )


def prune_older_directories(current: RawDirectory | Path, keep: int) -> list[str]:
    """Delete the oldest raw-run directories beside ``current`` (the same partition's
    other Dagster runs) so that ``keep`` remain, ``current`` among them; their URIs."""
    if keep < 1:
        raise ValueError("keep must be at least 1")
    if isinstance(current, Path):
        current = LocalDirectory(current)
    if isinstance(current, LocalDirectory):
        here = current.path.resolve()
        others = _local_run_directories(here.parent)
        others.pop(here, None)
        doomed = sorted(others, key=lambda p: others[p], reverse=True)[keep - 1 :]
        for path in doomed:
            shutil.rmtree(path, ignore_errors=True)
        return [p.as_uri() for p in doomed]
    assert isinstance(current, S3Directory)
    parent = current.key_prefix.rstrip("/").rsplit("/", 1)[0] + "/"
    found = _s3_run_directories(current.client, current.bucket, parent, depth=1)
    found.pop(current.key_prefix, None)
    s3_doomed = sorted(found, key=lambda k: found[k], reverse=True)[keep - 1 :]
    _s3_delete_prefixes(current.client, current.bucket, s3_doomed)
    return [f"s3://{current.bucket}/{k}" for k in s3_doomed]


def expire_directories(
    root: RawRoot,
    workflow: str,
    max_age_days: float,
    *,
    keep: RawDirectory | None = None,
    s3_client: Any = None,
    now: datetime | None = None,
) -> list[str]:
    """Delete the workflow's raw-run directories (every partition) whose newest file is
    older than ``max_age_days``, never ``keep``; their URIs."""
    if max_age_days <= 0:
        raise ValueError("max_age_days must be positive")
    cutoff = (now or datetime.now(UTC)).timestamp() - max_age_days * 86400
    if root.bucket is None:
        assert root.path is not None
        spared = keep.path.resolve() if isinstance(keep, LocalDirectory) else None
        doomed: list[Path] = []
        base = root.path / workflow
        for partition in base.iterdir() if base.is_dir() else ():
            for path, mtime in _local_run_directories(partition).items():
                if mtime < cutoff and path.resolve() != spared:
                    doomed.append(path)
        for path in doomed:
            shutil.rmtree(path, ignore_errors=True)
            _remove_if_empty(path.parent)
        return [p.as_uri() for p in doomed]
    client = _need_client(s3_client, root.uri)
    spared_key = keep.key_prefix if isinstance(keep, S3Directory) else None
    found = _s3_run_directories(client, root.bucket, f"{root.prefix}{workflow}/", depth=2)
    s3_doomed = [k for k, stamp in found.items() if stamp < cutoff and k != spared_key]
    _s3_delete_prefixes(client, root.bucket, s3_doomed)
    return [f"s3://{root.bucket}/{k}" for k in s3_doomed]


def _remove_if_empty(path: Path) -> None:
    with contextlib.suppress(OSError):
        os.rmdir(path)


def iter_directory_files(directory: RawDirectory) -> Iterator[str]:
    """The URIs of the raw parts in ``directory`` (for tools and tests)."""
    if isinstance(directory, LocalDirectory):
        for path in sorted(directory.path.glob(f"{RAW_FILE_PREFIX}*{RAW_FILE_SUFFIX}")):
            yield path.resolve().as_uri()
        return
    assert isinstance(directory, S3Directory)
    paginator = directory.client.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=directory.bucket, Prefix=directory.key_prefix):
        for item in page.get("Contents", []):
            name = item["Key"].rsplit("/", 1)[-1]
            if name.startswith(RAW_FILE_PREFIX) and name.endswith(RAW_FILE_SUFFIX):
                yield f"s3://{directory.bucket}/{item['Key']}"
