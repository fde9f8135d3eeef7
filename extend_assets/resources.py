"""The resources: configuration only, each handing out a plain client on demand.

Like dagster-fivetran's and dagster-dbt cloud_v2's resources, these hold settings (the
key through ``EnvVar("EXTEND_API_KEY")``) and build clients when a step or sensor asks;
nothing talks to Extend or S3 at definition time.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import boto3
from botocore.config import Config
from dagster import ConfigurableResource
from pydantic import Field

from extend_assets.client import API_VERSION, DEFAULT_BASE_URL, ExtendClient
from extend_assets.client.rate_store import RATE_LIMIT_STORE_ENV
from extend_assets.client.shared_bucket import RATE_LIMIT_DIR_ENV
from extend_assets.instance_store import instance_rate_limit_store
from extend_assets.submission import s3
from extend_assets.submission.s3 import SourceObject


class ExtendResource(ConfigurableResource):
    """Connection settings for Extend's workflow-run API."""

    api_key: str = Field(
        description="Extend API key. Set it with EnvVar('EXTEND_API_KEY') so it never lands in config."
    )
    base_url: str | None = Field(
        default=None,
        description="API host; unset: $EXTEND_BASE_URL when a client is made, else "
        f"{DEFAULT_BASE_URL} (point it at the local emulator for offline runs).",
    )
    api_version: str | None = Field(
        default=None,
        description=f"Sent as x-extend-api-version; unset: $EXTEND_API_VERSION, else {API_VERSION}.",
    )
    timeout: float = Field(default=60.0, description="Seconds to wait for one HTTP response.")
    max_retries: int = Field(default=5, description="Retries on 429, 5xx and connection errors.")
    requests_per_second: float = Field(
        default=10.0,
        description="The account's request rate limit; match your plan (PAYG 10, Scale 25, "
        "Enterprise 75). Each client starts here and slows down on 429s.",
    )
    sensor_rate_share: float = Field(
        default=0.2,
        gt=0,
        le=1,
        description="Share of requests_per_second a sensor's client may use (0..1].",
    )
    rate_limit_store: str | None = Field(
        default=None,
        description="Where every process on the account shares one request schedule at "
        "requests_per_second: a postgresql:// URL (every machine; pass it with EnvVar), a "
        f"local directory (one machine) or 'none'. Unset: rate_limit_dir, "
        f"${RATE_LIMIT_STORE_ENV}, ${RATE_LIMIT_DIR_ENV}, else the Dagster instance's "
        "PostgreSQL when it stores there, a directory beside a SQLite instance's files, "
        "else none (each process adapts alone).",
    )
    rate_limit_dir: str | None = Field(
        default=None,
        description="A local directory as rate_limit_store (the older spelling).",
    )
    workspace_id: str | None = Field(
        default=None, description="Sent as x-extend-workspace-id; needed with organization keys."
    )

    @property
    def resolved_base_url(self) -> str:
        """``base_url``, else ``$EXTEND_BASE_URL``, else Extend's API host (read now, not at load)."""
        return self.base_url or os.environ.get("EXTEND_BASE_URL") or DEFAULT_BASE_URL

    @property
    def resolved_api_version(self) -> str:
        return self.api_version or os.environ.get("EXTEND_API_VERSION") or API_VERSION

    @property
    def resolved_rate_limit_store(self) -> str | None:
        """The shared schedule's store: explicit settings first, else the instance's
        (read when a client is made, in a step or sensor)."""
        return (
            self.rate_limit_store
            or self.rate_limit_dir
            or os.environ.get(RATE_LIMIT_STORE_ENV)
            or os.environ.get(RATE_LIMIT_DIR_ENV)
            or self._instance_rate_limit_store()
        )

    def _instance_rate_limit_store(self) -> str | None:
        try:
            instance = self.get_resource_context().instance
        except Exception:  # not initialized by Dagster (a client made by hand): none
            return None
        if instance is None:
            return None
        try:
            return instance_rate_limit_store(instance)
        except Exception:  # an instance whose storage cannot say: pace adaptively
            return None

    def get_client(
        self,
        *,
        timeout: float | None = None,
        max_retries: int | None = None,
        rate_share: float = 1.0,
    ) -> ExtendClient:
        """A new client with its own pooled HTTP session; close it (or use ``with``) when done.

        ``timeout`` and ``max_retries`` tighten the configured values for one caller (a
        sensor tick cannot wait as long as a step can); ``rate_share`` caps the caller at
        a share of ``requests_per_second`` (a sensor's is ``sensor_rate_share``).
        """
        return ExtendClient(
            api_key=self.api_key,
            base_url=self.resolved_base_url,
            api_version=self.resolved_api_version,
            timeout=self.timeout if timeout is None else min(self.timeout, timeout),
            max_retries=self.max_retries
            if max_retries is None
            else min(self.max_retries, max_retries),
            requests_per_second=self.requests_per_second,
            workspace_id=self.workspace_id,
            rate_limit_store=self.resolved_rate_limit_store,
            rate_share=rate_share,
        )


class S3DocumentSource(ConfigurableResource):
    """Lists and presigns documents in S3 or an S3-compatible endpoint.

    One resource serves AWS in production and the local moto server offline: the
    endpoint, region and credentials come from config or from boto3's own standard
    environment (``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``, ``AWS_DEFAULT_REGION``...).
    dagster-aws' ``S3Resource`` is not reused because presigned URLs for Extend must be
    SigV4 (``s3v4``) and it does not let us choose the signature version.
    """

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
        """Every object under ``prefix`` (see :func:`extend_assets.submission.s3.list_objects`)."""
        return s3.list_objects(client or self.get_client(), bucket, prefix)
