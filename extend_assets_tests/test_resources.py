"""ExtendResource reads its host and API version from the environment when not given,
and a submission that cannot reach Extend says so (not that Extend refused it)."""

from __future__ import annotations

import socket
import uuid
from pathlib import Path
from typing import Any

import pytest
from dagster import DagsterInstance, EnvVar

from extend_assets.cli.runner import first_failure
from extend_assets.client import API_VERSION, DEFAULT_BASE_URL
from extend_assets.resources import ExtendResource
from extend_assets_tests.assets.harness import build

DAY = "2025-01-15"


def test_base_url_and_api_version_come_from_the_environment_when_not_given(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("EXTEND_BASE_URL", raising=False)
    monkeypatch.delenv("EXTEND_API_VERSION", raising=False)
    resource = ExtendResource(api_key="k")
    assert resource.resolved_base_url == DEFAULT_BASE_URL
    assert resource.resolved_api_version == API_VERSION
    monkeypatch.setenv("EXTEND_BASE_URL", "http://127.0.0.1:8787")
    monkeypatch.setenv("EXTEND_API_VERSION", "2026-02-09")
    with resource.get_client() as client:
        assert client.base_url == "http://127.0.0.1:8787"
        assert client.api_version == "2026-02-09"
    explicit = ExtendResource(api_key="k", base_url="http://elsewhere", api_version=API_VERSION)
    assert explicit.resolved_base_url == "http://elsewhere"
    assert explicit.resolved_api_version == API_VERSION


def test_the_readme_snippet_reaches_the_emulator_through_the_environment(
    monkeypatch: pytest.MonkeyPatch, extend_emulator: Any
) -> None:
    monkeypatch.setenv("EXTEND_API_KEY", extend_emulator.api_key)
    monkeypatch.setenv("EXTEND_BASE_URL", extend_emulator.base_url)
    resource = ExtendResource(api_key=EnvVar("EXTEND_API_KEY")).process_config_and_initialize()
    with resource.get_client() as client:
        assert client.base_url == extend_emulator.base_url
        assert list(client.list_workflow_runs(page_size=10)) is not None


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_an_unreachable_extend_is_reported_as_unreachable(
    extend_emulator: Any, local_s3: Any, tmp_path: Path
) -> None:
    bucket = f"unreachable-{uuid.uuid4().hex[:8]}"
    s3 = local_s3.boto3_client()
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key=f"d/{DAY}/a.txt", Body=b"Invoice Number: 1\n")
    defs, _ = build(
        extend_emulator,
        local_s3,
        tmp_path / "tables.duckdb",
        bucket=bucket,
        prefix_template="d/{date}/",
    )
    offline = dict(defs.resources or {})
    offline["extend"] = ExtendResource(
        api_key="k", base_url=f"http://127.0.0.1:{_closed_port()}", max_retries=0
    )
    with DagsterInstance.ephemeral() as instance:
        result = defs.resolve_job_def("t_extend_submit").execute_in_process(
            instance=instance, partition_key=DAY, resources=offline, raise_on_error=False
        )
    assert not result.success
    message = first_failure(result)
    assert "could not reach Extend" in message, message
    assert "refused" not in message
