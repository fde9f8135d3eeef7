"""``LocalS3Server``: moto's S3 server on loopback, behind a presigned-URL check."""

from __future__ import annotations

import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

from extend_assets.emulator.serving import BackgroundServer
from extend_assets.localstack.presign import PresignValidator


class LocalS3Server:
    """A real S3 endpoint (moto) for boto3 and for presigned GETs from the emulator.

    Unlike bare moto, it answers 403 to expired or tampered presigned URLs, as S3
    does; ``deny(bucket)`` makes a bucket answer AccessDenied to everything.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        region: str = "us-east-1",
        access_key: str = "testing",
        secret_key: str = "testing",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.host = host
        self.region = region
        self.access_key = access_key
        self.secret_key = secret_key
        self._http = BackgroundServer(host, port, "S3 server")
        self._clock = clock
        self.validator: PresignValidator | None = None

    def start(self) -> LocalS3Server:
        from moto.server import DomainDispatcherApplication, create_backend_app

        moto_app = DomainDispatcherApplication(create_backend_app)
        self.validator = PresignValidator(
            moto_app, {self.access_key: self.secret_key}, lambda: self._clock()
        )
        self._http.start(self.validator)
        return self

    def stop(self) -> None:
        self._http.stop()

    def __enter__(self) -> LocalS3Server:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return self._http.port

    @property
    def endpoint_url(self) -> str:
        return self._http.url

    def set_clock(self, clock: Callable[[], float]) -> None:
        """The clock presigned URLs expire against (tests move it forward)."""
        self._clock = clock

    def deny(self, bucket: str) -> None:
        assert self.validator is not None
        self.validator.denied.add(bucket)

    def allow(self, bucket: str) -> None:
        assert self.validator is not None
        self.validator.denied.discard(bucket)

    def env(self) -> dict[str, str]:
        """The standard AWS variables that point boto3 (and dagster-aws) here."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
        }

    def boto3_client(self) -> Any:
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
        )
