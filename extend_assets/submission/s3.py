"""S3 objects as document versions: list them (boto3's paginator), presign them, explain errors.

Plain boto3 over a client that :class:`extend_assets.resources.S3DocumentSource` builds.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import PurePosixPath
from typing import Any

from botocore.exceptions import ClientError

from extend_assets.errors import DocumentSourceError

# Extend's supported file types (reference §6.1).
SUPPORTED_EXTENSIONS: frozenset[str] = frozenset(
    {
        ".pdf",
        ".png", ".jpg", ".jpeg", ".tiff", ".tif", ".svg", ".heic", ".heif", ".bmp", ".gif",
        ".webp", ".psd", ".pcx",
        ".xls", ".xlsx", ".xltm", ".xltx", ".ods",
        ".docx", ".doc", ".wpd", ".dotx", ".odt",
        ".pptx", ".ppt", ".ppm",
        ".csv",
        ".txt", ".html", ".xml", ".rtf", ".lis", ".md",
        ".eml",
    }
)  # fmt: skip


@dataclass(frozen=True)
class SourceObject:
    """One listed S3 object: what the ledger needs to identify a document version."""

    bucket: str
    key: str
    etag: str
    size: int
    last_modified: datetime

    @property
    def file_name(self) -> str:
        return PurePosixPath(self.key).name

    @property
    def extension(self) -> str:
        return PurePosixPath(self.key).suffix.lower()


def skip_reason(obj: SourceObject) -> str | None:
    """Why Extend would not take this object, or None when it is a document to submit."""
    if obj.key.endswith("/"):
        return "folder_marker"
    if obj.size == 0:
        return None  # submitted anyway: Extend reports it as a FAILED run, so it gets a row
    if obj.extension not in SUPPORTED_EXTENSIONS:
        return "unsupported_type"
    return None


def list_objects(client: Any, bucket: str, prefix: str) -> Iterator[SourceObject]:
    """Every object under ``prefix``, page by page (boto3's paginator)."""
    paginator = client.get_paginator("list_objects_v2")
    try:
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                yield SourceObject(
                    bucket=bucket,
                    key=item["Key"],
                    etag=str(item.get("ETag", "")).strip('"'),
                    size=int(item.get("Size", 0)),
                    last_modified=item["LastModified"],
                )
    except ClientError as error:
        raise explain_client_error(error, bucket, prefix) from None


def presign_get(client: Any, bucket: str, key: str, expires_in: int) -> str:
    """A SigV4 presigned GET URL. It is a credential: never log or store it."""
    url: str = client.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=expires_in
    )
    return url


def explain_client_error(error: ClientError, bucket: str, prefix: str) -> DocumentSourceError:
    code = str(error.response.get("Error", {}).get("Code", "Unknown"))
    where = f"s3://{bucket}/{prefix}"
    if code in {"NoSuchBucket", "404"}:
        return DocumentSourceError(
            f"Bucket '{bucket}' does not exist (listing {where}). Fix the `bucket` setting "
            "(EXTEND_S3_BUCKET) or create the bucket."
        )
    if code in {"AccessDenied", "403", "AllAccessDisabled", "InvalidAccessKeyId"}:
        return DocumentSourceError(
            f"Access denied listing {where} ({code}). Grant s3:ListBucket and s3:GetObject on the "
            "bucket to the credentials the pipeline uses, or check AWS_ACCESS_KEY_ID / AWS_PROFILE."
        )
    return DocumentSourceError(f"S3 error {code} listing {where}: {error}")
