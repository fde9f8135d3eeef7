"""Bad input, one row each: a clear error naming the field and the fix, or a recorded FAILED row.

The table in the README ("Reliability and bad input") lists the same cases. Every
error text is also checked for the API key: it must never be in a message.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import responses
from dagster import DagsterInstance, materialize

from extend_assets.assets import build_extend_workflow_assets
from extend_assets.cli.runner import first_failure
from extend_assets.client import (
    ExtendClient,
    ExtendNotFoundError,
    ExtendResponseError,
    ExtendUnauthorizedError,
    UnsupportedApiVersionError,
    WorkflowRun,
)
from extend_assets.emulator import SAMPLE_WORKFLOW_ID, EmulatorServer
from extend_assets.errors import ExtendAssetsConfigError, PartitionSelectionError
from extend_assets.resources import ExtendResource
from extend_assets_tests.assets.harness import build, resources, runner, table

SECRET_KEY = "sk_live_never_print_me_0123456789"
DAY = "2025-01-15"


@pytest.fixture(scope="module")
def emu() -> Iterator[EmulatorServer]:
    with EmulatorServer(port=0, api_keys=(SECRET_KEY,), max_file_bytes=10_000) as server:
        yield server


def client_for(emu: EmulatorServer, **kwargs: Any) -> ExtendClient:
    settings: dict[str, Any] = {"api_key": SECRET_KEY, "base_url": emu.base_url, "max_retries": 0}
    settings.update(kwargs)
    return ExtendClient(**settings)


def factory(**kwargs: Any) -> Callable[[EmulatorServer], Any]:
    settings: dict[str, Any] = {
        "workflow_id": SAMPLE_WORKFLOW_ID,
        "bucket": "b",
        "prefix_template": "d/{date}/",
        "start_date": "2025-01-01",
    }
    settings.update(kwargs)
    return lambda emu: build_extend_workflow_assets(**settings)


CLIENT_CASES: list[tuple[str, Callable[[EmulatorServer], Any], type[Exception], list[str]]] = [
    ("missing API key", lambda emu: client_for(emu, api_key=""), ValueError, ["EXTEND_API_KEY"]),
    (
        "wrong API key",
        lambda emu: client_for(emu, api_key="sk_wrong").get_workflow_run("workflow_run_x"),
        ExtendUnauthorizedError,
        ["HTTP 401", "EXTEND_API_KEY"],
    ),
    (
        "wrong API version",
        lambda emu: client_for(emu, api_version="2024-12-23").list_workflow_runs_page(),
        UnsupportedApiVersionError,
        ["2024-12-23", "x-extend-api-version", "2025-04-21, 2026-02-09"],
    ),
    (
        "unknown workflow id",
        lambda emu: client_for(emu).batch_run_workflow("workflow_missing", [{"rawText": "x"}]),
        ExtendNotFoundError,
        ["workflow_missing", "workflow id and version"],
    ),
    (
        "unknown workflow version",
        lambda emu: client_for(emu).run_workflow(SAMPLE_WORKFLOW_ID, raw_texts=["x"], version="9"),
        ExtendNotFoundError,
        ["version 9", "Version '9'"],
    ),
    (
        "priority 0",
        lambda emu: client_for(emu).run_workflow(SAMPLE_WORKFLOW_ID, raw_texts=["x"], priority=0),
        ValueError,
        ["priority", "1 to 100"],
    ),
    ("priority 101 in the factory", factory(priority=101), ExtendAssetsConfigError, ["priority", "1..100"]),
    (
        "page size 0",
        lambda emu: client_for(emu).list_workflow_runs_page(page_size=0),
        ValueError,
        ["page_size", "1 to 1000"],
    ),
    (
        "metadata over 10 KB",
        factory(run_metadata={"note": "x" * 11_000}),
        ExtendAssetsConfigError,
        ["run_metadata", "10240"],
    ),
    ("prefix without {date}", factory(prefix_template="invoices/"), PartitionSelectionError,
     ["{date}", "selection='last_modified'"]),
    ("prefix with an unknown placeholder", factory(prefix_template="{date}/{region}/"),
     PartitionSelectionError, ["region", "only {date}"]),
    ("bucket missing in the factory", factory(bucket=""), ExtendAssetsConfigError,
     ["bucket", "EXTEND_S3_BUCKET"]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("case", "act", "error", "fragments"), CLIENT_CASES, ids=[c[0] for c in CLIENT_CASES]
)
def test_bad_input_gets_a_clear_error(
    emu: EmulatorServer,
    case: str,
    act: Callable[[EmulatorServer], Any],
    error: type[Exception],
    fragments: list[str],
) -> None:
    with pytest.raises(error) as raised:
        act(emu)
    text = str(raised.value)
    for fragment in fragments:
        assert fragment in text, f"{case}: {fragment!r} not in {text!r}"
    assert SECRET_KEY not in text + repr(raised.value)


@pytest.mark.parametrize(
    ("case", "body", "status", "fragment"),
    [
        ("a 502 HTML page", "<html><body><h1>502 Bad Gateway</h1></body></html>", 200, "not JSON"),
        (
            "truncated JSON",
            '{"success": true, "workflowRun": {"id": "workflow_run',
            200,
            "not JSON",
        ),
        ("missing workflowRun", '{"success": true}', 200, "without a workflowRun"),
    ],
)
@responses.activate
def test_unusable_api_answers(case: str, body: str, status: int, fragment: str) -> None:
    responses.get("https://api.test/workflow_runs/workflow_run_x", body=body, status=status)
    client = ExtendClient(SECRET_KEY, base_url="https://api.test", max_retries=0)
    with pytest.raises(ExtendResponseError, match=fragment) as raised:
        client.get_workflow_run("workflow_run_x")
    assert SECRET_KEY not in str(raised.value)


def test_unknown_status_and_missing_fields_are_tolerated() -> None:
    run = WorkflowRun.from_json({"id": "workflow_run_q", "status": "ARCHIVED_2027"})
    assert run.status == "ARCHIVED_2027" and not run.is_terminal
    assert run.metadata == {} and run.outputs == [] and run.reviewed_at is None


def test_a_wrong_key_fails_the_submission_step_with_the_hint_and_no_key(
    emu: EmulatorServer, local_s3: Any, tmp_path: Path
) -> None:
    bucket = f"badkey-{uuid.uuid4().hex[:8]}"
    s3 = local_s3.boto3_client()
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key=f"d/{DAY}/a.txt", Body=b"Invoice Number: 1\n")
    defs, _ = build(
        emu, local_s3, tmp_path / "tables.duckdb", bucket=bucket, prefix_template="d/{date}/"
    )
    wrong = dict(defs.resources or {})
    wrong["extend"] = ExtendResource(api_key="sk_wrong_key_xyz", base_url=emu.base_url)
    with DagsterInstance.ephemeral() as instance:
        result = defs.resolve_job_def("t_extend_submit").execute_in_process(
            instance=instance, partition_key=DAY, resources=wrong, raise_on_error=False
        )
    assert not result.success
    message = first_failure(result)
    assert "HTTP 401" in message and "EXTEND_API_KEY" in message
    assert "sk_wrong_key_xyz" not in message


def test_an_object_deleted_between_listing_and_presign_becomes_a_failed_row(
    emu: EmulatorServer, local_s3: Any, tmp_path: Path
) -> None:
    bucket = f"deleted-{uuid.uuid4().hex[:8]}"
    s3 = local_s3.boto3_client()
    s3.create_bucket(Bucket=bucket)
    for name in ("keep.txt", "gone.txt", "big.txt"):
        body = b"Invoice Number: K-1\n" if name != "big.txt" else b"x" * 20_000
        s3.put_object(Bucket=bucket, Key=f"d/{DAY}/{name}", Body=body)
    db_path = tmp_path / "tables.duckdb"
    defs, workflow = build(
        emu, local_s3, db_path, bucket=bucket, prefix_template="d/{date}/", review_policy="settle"
    )
    res = resources(emu, local_s3, db_path)
    res["extend"] = ExtendResource(
        api_key=SECRET_KEY, base_url=emu.base_url, requests_per_second=200
    )
    with DagsterInstance.ephemeral() as instance:
        listed = materialize(
            workflow.assets, selection=[workflow.keys["source"]], partition_key=DAY,
            instance=instance, resources=res,
        )  # fmt: skip
        assert listed.success
        s3.delete_object(Bucket=bucket, Key=f"d/{DAY}/gone.txt")
        submitted = materialize(
            workflow.assets, selection=[workflow.keys["batches"]], partition_key=DAY,
            instance=instance, resources=res,
        )  # fmt: skip
        assert submitted.success
        pipeline = runner(defs, instance)
        pipeline.resources = res
        pipeline.settle([DAY], pause_seconds=0.05)
    rows = table(db_path, "extend_extracted_documents").set_index("key")
    assert rows.loc[f"d/{DAY}/keep.txt", "status"] == "PROCESSED"
    assert rows.loc[f"d/{DAY}/gone.txt", "status"] == "FAILED"
    assert str(rows.loc[f"d/{DAY}/gone.txt", "failure_message"]).startswith(
        "UNABLE_TO_DOWNLOAD_FILE"
    )
    assert str(rows.loc[f"d/{DAY}/big.txt", "failure_message"]).startswith("FILE_SIZE_TOO_LARGE")
    assert len(rows) == 3
