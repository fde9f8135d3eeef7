"""The local S3 answers presigned URLs as S3 does: valid → bytes, expired or tampered → 403."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from extend_assets.localstack import LocalS3Server


class MovableClock:
    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


@pytest.fixture
def clocked_s3() -> Iterator[tuple[LocalS3Server, MovableClock]]:
    clock = MovableClock()
    with LocalS3Server(port=0, clock=clock) as server:
        yield server, clock


@pytest.fixture
def presigned(clocked_s3: tuple[LocalS3Server, MovableClock]) -> tuple[str, bytes]:
    server, _ = clocked_s3
    client = server.boto3_client()
    bucket = f"presign-{uuid.uuid4().hex[:10]}"
    client.create_bucket(Bucket=bucket)
    body = "Rechnung für Müller - 1.234,50 €".encode()
    key = "invoices/2025-01-15/Rechnung Müller #1.pdf"
    client.put_object(Bucket=bucket, Key=key, Body=body)
    url: str = client.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=900
    )
    return url, body


def test_a_valid_presigned_url_downloads_the_exact_bytes(presigned: tuple[str, bytes]) -> None:
    url, body = presigned
    answer = requests.get(url, timeout=10)
    assert answer.status_code == 200 and answer.content == body


def test_an_expired_url_gets_s3s_403(
    clocked_s3: tuple[LocalS3Server, MovableClock], presigned: tuple[str, bytes]
) -> None:
    _, clock = clocked_s3
    url, _ = presigned
    clock.offset = 901
    answer = requests.get(url, timeout=10)
    assert answer.status_code == 403
    assert "<Code>AccessDenied</Code>" in answer.text and "Request has expired" in answer.text


@pytest.mark.parametrize("part", ["signature", "key", "expiry"])
def test_a_tampered_url_gets_signature_does_not_match(
    presigned: tuple[str, bytes], part: str
) -> None:
    url, _ = presigned
    if part == "signature":
        head, _, sig = url.partition("X-Amz-Signature=")
        url = head + "X-Amz-Signature=" + ("0" if sig[0] != "0" else "1") + sig[1:]
    elif part == "key":
        url = url.replace("Rechnung", "Rechnunh", 1)
    else:
        url = url.replace("X-Amz-Expires=900", "X-Amz-Expires=9000")
    answer = requests.get(url, timeout=10)
    assert answer.status_code == 403 and "<Code>SignatureDoesNotMatch</Code>" in answer.text


def test_deny_and_allow_a_bucket(local_s3: LocalS3Server) -> None:
    client = local_s3.boto3_client()
    bucket = f"deny-{uuid.uuid4().hex[:10]}"
    client.create_bucket(Bucket=bucket)
    local_s3.deny(bucket)
    try:
        with pytest.raises(client.exceptions.ClientError, match="AccessDenied"):
            client.list_objects_v2(Bucket=bucket)
    finally:
        local_s3.allow(bucket)
    assert client.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_the_paginator_lists_every_object(local_s3: LocalS3Server) -> None:
    client = local_s3.boto3_client()
    bucket = f"page-{uuid.uuid4().hex[:10]}"
    client.create_bucket(Bucket=bucket)
    for i in range(25):
        client.put_object(Bucket=bucket, Key=f"p/{i:03d}.txt", Body=b"x")
    pages = client.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix="p/", PaginationConfig={"PageSize": 10}
    )
    keys = [obj["Key"] for page in pages for obj in page.get("Contents", [])]
    assert keys == [f"p/{i:03d}.txt" for i in range(25)]
    assert local_s3.env()["AWS_ENDPOINT_URL"] == local_s3.endpoint_url


def test_the_emulator_fails_a_run_whose_url_expired(
    clocked_s3: tuple[LocalS3Server, MovableClock], presigned: tuple[str, bytes]
) -> None:
    from extend_assets.client import ExtendClient
    from extend_assets.emulator import SAMPLE_WORKFLOW_ID, EmulatorServer

    _, clock = clocked_s3
    url, _ = presigned
    clock.offset = 3600  # the batch waited in Extend's queue longer than the URL lives
    with EmulatorServer(port=0) as emu, ExtendClient(emu.api_key, base_url=emu.base_url) as client:
        (run,) = client.run_workflow(
            SAMPLE_WORKFLOW_ID, files=[{"fileUrl": url, "fileName": "a.pdf"}]
        )
        assert emu.wait_idle(120)
        done = client.get_workflow_run(run.id)
    assert done.status == "FAILED" and done.failure_reason == "FAILED_TO_PROCESS_FILE"
    assert str(done.failure_message).startswith("UNABLE_TO_DOWNLOAD_FILE")
    assert "403" in str(done.failure_message)


def test_the_local_stack_fixture_serves_seeded_samples(local_stack: Any) -> None:
    env = local_stack.env()
    client = local_stack.s3.boto3_client()
    listed = client.list_objects_v2(Bucket=env["EXTEND_S3_BUCKET"], Prefix="invoices/")
    assert listed["KeyCount"] == len(local_stack.documents) == 30
    assert env["EXTEND_S3_PREFIX"] == "invoices/{date}/"
    assert requests.get(env["EXTEND_BASE_URL"] + "/workflow_runs", timeout=5).status_code == 401
