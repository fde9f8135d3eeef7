"""Where documents come from: S3 (or any S3-compatible endpoint) through boto3.

One resource serves AWS in production and the local moto server offline: the
endpoint, region and credentials come from config or from boto3's own standard
environment (``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``, ``AWS_DEFAULT_REGION``...).
We do not reuse dagster-aws' ``S3Resource`` because presigned URLs for Extend
must be SigV4 (``s3v4``) and it does not let us choose the signature version.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import PurePosixPath
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError
from dagster import ConfigurableResource
from pydantic import Field

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


class DocumentSourceError(RuntimeError):
    """An S3 problem explained for a person: which bucket, what went wrong, what to do."""


class S3DocumentSource(ConfigurableResource):
    """Lists and presigns documents in S3 or an S3-compatible endpoint."""

    endpoint_url: str | None = Field(
        default=None,
        description="S3 endpoint; unset means boto3's default (AWS, or AWS_ENDPOINT_URL if set).",
    )
    region_name: str | None = Field(default=None, description="AWS region (or AWS_DEFAULT_REGION).")
    aws_access_key_id: str | None = Field(
        default=None, description="Unset: boto3's credential chain."
    )
    aws_secret_access_key: str | None = Field(default=None, description="Use EnvVar for this.")
    addressing_style: str = Field(
        default="auto", description="'path' for local S3 servers, 'auto' or 'virtual' for AWS."
    )

    def get_client(self) -> Any:
        """A boto3 S3 client that signs with SigV4, as presigned URLs for Extend need."""
        session = boto3.session.Session(
            aws_access_key_id=self.aws_access_key_id,
            aws_secret_access_key=self.aws_secret_access_key,
            region_name=self.region_name,
        )
        config = Config(
            signature_version="s3v4",
            s3={"addressing_style": self.addressing_style},
            retries={"mode": "standard", "max_attempts": 5},
        )
        return session.client("s3", endpoint_url=self.endpoint_url, config=config)

    def list_objects(self, bucket: str, prefix: str, client: Any = None) -> Iterator[SourceObject]:
        """Every object under ``prefix``, page by page (boto3's paginator)."""
        s3 = client or self.get_client()
        paginator = s3.get_paginator("list_objects_v2")
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

    def presign_get(self, client: Any, bucket: str, key: str, expires_in: int) -> str:
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
