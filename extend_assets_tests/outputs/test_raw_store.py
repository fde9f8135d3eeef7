"""Raw runs on the local S3 and on disk: written whole, read streamed, missing files
fetched again once, retention by count and by age, and raw_runs_dir checked at load."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from extend_assets import ExtendWorkflowConfig
from extend_assets.errors import ExtendAssetsConfigError
from extend_assets.outputs.raw_files import RawRunWriter, iter_raw_file
from extend_assets.outputs.raw_reader import RawRunReader
from extend_assets.outputs.raw_store import (
    EXTRACTORS_FILE,
    RawFileMissing,
    S3Directory,
    expire_directories,
    iter_directory_files,
    open_directory,
    parse_raw_root,
    prune_older_directories,
    read_beside,
)


def run(n: int) -> dict[str, Any]:
    return {"id": f"run_{n}", "status": "PROCESSED", "output": {"value": {"n": n}}}


def keys_under(s3_client: Any, bucket: str, prefix: str = "") -> list[str]:
    answer = s3_client.list_objects_v2(Bucket=bucket, Prefix=prefix)
    return sorted(item["Key"] for item in answer.get("Contents", []))


def s3_directory(s3_client: Any, bucket: str, relative: str) -> S3Directory:
    directory = open_directory(parse_raw_root(f"s3://{bucket}/raw"), relative, s3_client)
    assert isinstance(directory, S3Directory)
    return directory


def test_runs_go_to_s3_in_whole_parts_and_stream_back(s3_client: Any, bucket: str) -> None:
    directory = s3_directory(s3_client, bucket, "wf/2025-01-01/dagster-run-1")
    scratch = Path(directory._scratch.name)
    with RawRunWriter(directory, chunk_size=3) as writer:
        places = [writer.add(run(n)) for n in range(4)]
        # The first part is uploaded whole when the second starts; the second is not yet.
        assert keys_under(s3_client, bucket) == [
            "raw/wf/2025-01-01/dagster-run-1/runs-00001.jsonl.gz"
        ]
        for n in range(4, 7):
            places.append(writer.add(run(n)))
        writer.write_beside(EXTRACTORS_FILE, b"[]")
    assert not scratch.exists()  # the local part files are gone with the writer

    assert writer.files == [
        f"s3://{bucket}/raw/wf/2025-01-01/dagster-run-1/runs-0000{i}.jsonl.gz" for i in (1, 2, 3)
    ]
    assert places[3] == (writer.files[1], 0) and places[6] == (writer.files[2], 0)
    read = [r["id"] for uri in writer.files for r in iter_raw_file(uri, s3_client)]
    assert read == [f"run_{n}" for n in range(7)]
    assert read_beside(writer.files[0], EXTRACTORS_FILE, s3_client) == b"[]"
    assert read_beside(writer.files[0], "nothing.json", s3_client) is None
    assert list(iter_directory_files(directory)) == writer.files
    with pytest.raises(RawFileMissing):
        list(iter_raw_file(f"s3://{bucket}/raw/gone/runs-00001.jsonl.gz", s3_client))


def runs_table(files: Sequence[str], per_file: int) -> pd.DataFrame:
    rows = [
        {"run_id": f"run_{i * per_file + j}", "status": "PROCESSED", "raw_uri": uri}
        for i, uri in enumerate(files)
        for j in range(per_file)
    ]
    return pd.DataFrame(rows)


class CountingRefetch:
    def __init__(self) -> None:
        self.calls: list[list[tuple[str, str | None]]] = []

    def __call__(self, wanted: Sequence[tuple[str, str | None]]) -> Iterable[Mapping[str, Any]]:
        self.calls.append(list(wanted))
        return [run(int(run_id.split("_")[1])) for run_id, _ in wanted]


def test_a_missing_file_is_fetched_again_once_per_step(s3_client: Any, bucket: str) -> None:
    directory = s3_directory(s3_client, bucket, "wf/2025-01-02/dagster-run-1")
    with RawRunWriter(directory, chunk_size=2) as writer:
        for n in range(4):
            writer.add(run(n))
    frame = runs_table(writer.files, per_file=2)
    _, gone_key = writer.files[1][len("s3://") :].split("/", 1)
    s3_client.delete_object(Bucket=bucket, Key=gone_key)

    refetch = CountingRefetch()
    with RawRunReader(frame, s3_client=s3_client, refetch=refetch) as reader:
        for _ in range(2):  # the extractors pass and the flatten pass
            assert [r["id"] for r in reader.iter_file(writer.files[1])] == ["run_2", "run_3"]
        assert [r["id"] for r in reader.iter_file(writer.files[0])] == ["run_0", "run_1"]
        assert refetch.calls == [[("run_2", "PROCESSED"), ("run_3", "PROCESSED")]]
        assert reader.refetched == 2 and reader.missing_files == [writer.files[1]]

    with RawRunReader(frame, s3_client=s3_client) as reader, pytest.raises(RawFileMissing):
        list(reader.iter_file(writer.files[1]))


def write_directory(root: str, relative: str, s3_client: Any = None) -> Any:
    directory = open_directory(parse_raw_root(root), relative, s3_client)
    with RawRunWriter(directory, chunk_size=2) as writer:
        writer.add(run(0))
        writer.write_beside(EXTRACTORS_FILE, b"[]")
    return directory


def test_s3_retention_by_count_and_age_touches_only_raw_run_directories(
    s3_client: Any, bucket: str
) -> None:
    root = f"s3://{bucket}/raw"
    olds = [write_directory(root, f"wf/2025-01-01/old-{n}", s3_client) for n in range(3)]
    current = write_directory(root, "wf/2025-01-01/current", s3_client)
    other_day = write_directory(root, "wf/2025-01-02/run", s3_client)
    other_workflow = write_directory(root, "wf2/2025-01-01/run", s3_client)
    s3_client.put_object(Bucket=bucket, Key="raw/wf/2025-01-01/notes/readme.txt", Body=b"mine")

    pruned = prune_older_directories(current, keep=1)
    assert sorted(pruned) == sorted(d.uri + "/" for d in olds)
    assert keys_under(s3_client, bucket, "raw/wf/2025-01-01/") == [
        "raw/wf/2025-01-01/current/extractors.json",
        "raw/wf/2025-01-01/current/runs-00001.jsonl.gz",
        "raw/wf/2025-01-01/notes/readme.txt",
    ]

    parsed = parse_raw_root(root)
    assert expire_directories(parsed, "wf", 1, keep=current, s3_client=s3_client) == []
    later = datetime.now(UTC) + timedelta(days=2)
    expired = expire_directories(parsed, "wf", 1, keep=current, s3_client=s3_client, now=later)
    assert expired == [other_day.uri + "/"]
    assert keys_under(s3_client, bucket, "raw/wf/2025-01-02/") == []
    assert len(keys_under(s3_client, bucket, "raw/wf2/")) == 2  # another workflow's: kept
    assert other_workflow.uri.endswith("wf2/2025-01-01/run")
    assert "raw/wf/2025-01-01/notes/readme.txt" in keys_under(s3_client, bucket)


def test_local_retention_by_age(tmp_path: Path) -> None:
    root = str(tmp_path / "raw")
    old = write_directory(root, "wf/2025-01-01/old")
    current = write_directory(root, "wf/2025-01-03/current")
    fresh = write_directory(root, "wf/2025-01-02/fresh")
    week_ago = time.time() - 7 * 86400
    for directory in (old, current):
        os.utime(directory.path, (week_ago, week_ago))
    (tmp_path / "raw" / "wf" / "notes").mkdir()

    expired = expire_directories(parse_raw_root(root), "wf", 3, keep=current)
    assert expired == [old.path.as_uri()]
    assert not old.path.exists() and not old.path.parent.exists()  # its empty partition too
    assert current.path.exists() and fresh.path.exists()
    assert (tmp_path / "raw" / "wf" / "notes").exists()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("s3://bucket/some/prefix/", ("bucket", "some/prefix/", None)),
        ("s3://bucket", ("bucket", "", None)),
        ("S3://bucket/raw", ("bucket", "raw/", None)),
        ("/data/raw", (None, "", Path("/data/raw"))),
        ("file:///data/raw", (None, "", Path("/data/raw"))),
    ],
)
def test_raw_runs_dir_forms(value: str, expected: tuple[Any, ...]) -> None:
    root = parse_raw_root(value)
    assert (root.bucket, root.prefix, root.path) == expected


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("gs://bucket/raw", "uses the scheme gs://, which is not supported"),
        ("https://example.com/raw", "uses the scheme https://"),
        ("s3:///raw", "has no bucket"),
        ("file://host/raw", "with a host"),
    ],
)
def test_a_raw_runs_dir_that_cannot_work_fails_at_load(value: str, problem: str) -> None:
    with pytest.raises(ExtendAssetsConfigError) as caught:
        ExtendWorkflowConfig.build(workflow_id="workflow_x", bucket="docs", raw_runs_dir=value)
    message = str(caught.value)
    assert message.startswith(f"Extend workflow option raw_runs_dir={value!r}: ")
    assert problem in message
    assert "Use s3://BUCKET/PREFIX" in message and "or a local directory" in message


def test_raw_runs_max_age_days_must_be_positive() -> None:
    with pytest.raises(ExtendAssetsConfigError, match="raw_runs_max_age_days=0"):
        ExtendWorkflowConfig.build(workflow_id="workflow_x", bucket="docs", raw_runs_max_age_days=0)
    config = ExtendWorkflowConfig.build(
        workflow_id="workflow_x", bucket="docs", raw_runs_dir=f"s3://b-{uuid.uuid4().hex[:6]}/raw"
    )
    assert config.raw_runs_dir is not None and config.raw_runs_max_age_days is None
