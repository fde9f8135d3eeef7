"""The two landing zones: a local directory (fsync, rename) and S3 (PutObject)."""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from pathlib import Path
from typing import IO, Any

from extend_assets.webhooks.errors import LandingError
from extend_assets.webhooks.landing import LandingZone

_CHUNK = 1024 * 1024
READ_WORKERS = 16


class DirectoryLandingZone(LandingZone):
    """A local or shared directory; each file is written to a temp name, fsynced and
    renamed (or hard-linked, when it must not exist yet)."""

    def __init__(self, root: str | Path) -> None:
        super().__init__()
        self.root = Path(root).resolve()
        self.description = self._root_text = str(self.root)
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

    def _put_stream(self, key: str, source: IO[bytes]) -> None:
        target = self.root / key
        try:
            self._ensure_dir(target.parent)
            temp = target.parent / f".tmp-{uuid.uuid4().hex}"
            with open(temp, "wb") as handle:
                shutil.copyfileobj(source, handle, _CHUNK)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, target)
            _fsync_dir(target.parent)
        except OSError as error:
            raise LandingError(f"cannot write {target}: {error.strerror or error}") from None

    def _create(self, key: str, body: bytes) -> bool:
        """Temp file, fsync, then ``os.link``: atomic, and fails if the name exists
        (also on NFS and other shared file systems, unlike a check then a rename)."""
        target = self.root / key
        try:
            self._ensure_dir(target.parent)
            temp = target.parent / f".tmp-{uuid.uuid4().hex}"
            with open(temp, "wb") as handle:
                handle.write(body)
                handle.flush()
                os.fsync(handle.fileno())
            try:
                os.link(temp, target)
            except FileExistsError:
                return False
            finally:
                os.unlink(temp)
            _fsync_dir(target.parent)
            return True
        except OSError as error:
            raise LandingError(f"cannot create {target}: {error.strerror or error}") from None

    def check(self) -> None:
        if not os.access(self.root, os.W_OK | os.X_OK):
            raise LandingError(f"directory {self.root} is not writable by this user")
        probe = f"checks/{uuid.uuid4().hex}"
        self.check_conditional_writes(probe)
        with contextlib.suppress(OSError):
            (self.root / probe).unlink()

    def _get_optional(self, key: str) -> bytes | None:
        try:  # not Path.read_bytes: the runs step reads one file per run
            with open(os.path.join(self._root_text, key), "rb") as handle:
                return handle.read()
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
    """``s3://bucket/prefix``: one PutObject per file (S3 writes are durable on 200).

    Readers GET events 16 at a time (:attr:`read_workers`): one GetObject is a round
    trip of milliseconds, so one after another they would bound the runs step. boto3
    clients are thread-safe; the default client's pool holds as many connections.
    """

    read_workers = READ_WORKERS

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
        probe = f"checks/{uuid.uuid4().hex}"
        self.check_conditional_writes(probe)
        with contextlib.suppress(Exception):  # s3:DeleteObject is not required
            self._client.delete_object(Bucket=self.bucket, Key=self.prefix + probe)

    def _put(self, key: str, body: bytes) -> None:
        try:
            self._client.put_object(Bucket=self.bucket, Key=self.prefix + key, Body=body)
        except Exception as error:
            raise LandingError(
                f"PutObject {self.description}{key} failed: {_aws_reason(error)}"
            ) from None

    def _put_stream(self, key: str, source: IO[bytes]) -> None:
        """upload_fileobj: one PutObject, or a multipart upload above 8 MiB (bounded
        buffers either way)."""
        try:
            self._client.upload_fileobj(source, self.bucket, self.prefix + key)
        except Exception as error:
            raise LandingError(
                f"upload {self.description}{key} failed: {_aws_reason(error)}"
            ) from None

    def _create(self, key: str, body: bytes) -> bool:
        """PutObject with ``If-None-Match: *``: S3 answers 412 if the key exists (409 when
        another conditional write of it is in flight: the caller reads and retries).
        The local stack's moto 5.2.5 honours it (a 412 on the second write; the local
        stack serializes conditional PUTs, which moto checks without a lock)."""
        try:
            self._client.put_object(
                Bucket=self.bucket, Key=self.prefix + key, Body=body, IfNoneMatch="*"
            )
            return True
        except Exception as error:
            if _aws_code(error) in {"PreconditionFailed", "412", "ConditionalRequestConflict"}:
                return False
            raise LandingError(
                f"PutObject (If-None-Match) {self.description}{key} failed: "
                f"{_aws_reason(error)}; the landing zone needs S3 conditional writes"
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
        max_pool_connections=READ_WORKERS,
        s3={"addressing_style": os.environ.get("EXTEND_WEBHOOKS_S3_ADDRESSING", "auto")},
    )
    return boto3.client("s3", config=config)


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
