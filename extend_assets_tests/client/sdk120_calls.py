# mypy: ignore-errors
# (type-checked against extend-ai 0.2.0, the venv's; this file runs with 1.20.0)
"""The workflow-run calls of ``test_wire_equals_sdk120.py``, made with the official SDK
1.20.0: ``python sdk120_calls.py BASE_URL KEY WORKFLOW_ID``. The same calls are made
with ExtendClient; the capturing server compares what both sent."""

from __future__ import annotations

import sys

URL = "https://bucket.s3.amazonaws.com/inv.pdf?X-Amz-Signature=abc"


def main(base_url: str, key: str, workflow_id: str) -> None:
    from extend_ai import Extend

    sdk = Extend(token=key, base_url=base_url)
    runs = sdk.workflow_runs
    runs.create(
        workflow={"id": workflow_id, "version": "3"},
        file={"url": URL, "name": "inv.pdf"},
        priority=40,
        metadata={"source": "s3", "extend:usage_tags": ["prod"]},
    )
    runs.create(workflow={"id": workflow_id}, file={"id": "file_abc"})
    runs.create(
        workflow={"id": workflow_id}, file={"text": "Invoice Number: 7"}, secrets={"s": "1"}
    )
    runs.create(
        workflow={"id": workflow_id},
        package={"files": [{"url": URL, "name": "a.pdf"}, {"id": "file_b"}]},
        metadata={"k": "v"},
    )
    runs.create_batch(
        workflow={"id": workflow_id, "version": "draft"},
        inputs=[
            {"file": {"url": URL, "name": "a.pdf"}, "metadata": {"key": "a.pdf"}},
            {"file": {"text": "hello"}, "secrets": {"t": "x"}},
        ],
        priority=12,
    )
    runs.list(
        status="PROCESSED", workflow_id=workflow_id, batch_id="batch_1",
        file_name_contains="inv", sort_by="createdAt", sort_dir="asc", max_page_size=50,
        next_page_token="tok",
    )  # fmt: skip
    runs.retrieve("workflow_run_1")
    runs.update("workflow_run_1", name="renamed", metadata={"a": 1})
    runs.cancel("workflow_run_1")
    runs.delete("workflow_run_1")


if __name__ == "__main__":
    main(*sys.argv[1:4])
