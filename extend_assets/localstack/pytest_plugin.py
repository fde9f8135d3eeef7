"""pytest fixtures: a local S3 server (one per session) and a small local stack per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from extend_assets.localstack.s3 import LocalS3Server
from extend_assets.localstack.stack import LocalStack


@pytest.fixture(scope="session")
def local_s3() -> Iterator[LocalS3Server]:
    """One S3 endpoint for the session; tests create their own uniquely named buckets."""
    with LocalS3Server(port=0) as server:
        yield server


@pytest.fixture(scope="session")
def local_stack() -> Iterator[LocalStack]:
    """The emulator plus S3 seeded with 30 samples over 2 days, shared by the session."""
    with LocalStack(
        documents=30, days=2, emulator_latency=0.0, bucket="local-stack-session"
    ) as stack:
        yield stack
