"""The same runs, rendered by the emulator in 2025-04-21 and in 2026-02-09, flatten to
equal documents, line items and splits frames (same columns, same values)."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest
import requests

from extend_assets import flatten
from extend_assets.client import ExtendClient
from extend_assets.emulator import SAMPLE_WORKFLOW_ID, EmulatorServer
from extend_assets.samples.corpus import generate_corpus, upload_corpus
from extend_assets_tests.flatten import builders as b

BUCKET = "both-versions"


def fetch(emu: EmulatorServer, run_id: str, version: str) -> dict[str, Any]:
    answer = requests.get(
        f"{emu.base_url}/workflow_runs/{run_id}",
        headers={"Authorization": f"Bearer {emu.api_key}", "x-extend-api-version": version},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body["workflowRun"] if version == "2025-04-21" else body


@pytest.fixture(scope="module")
def both(local_s3: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    s3 = local_s3.boto3_client()
    s3.create_bucket(Bucket=BUCKET)
    docs = [d for d in generate_corpus(24, days=2) if not d.key.endswith("/")]
    upload_corpus(docs, s3, BUCKET)
    inputs = [
        {
            "file": {
                "fileUrl": s3.generate_presigned_url(
                    "get_object", Params={"Bucket": BUCKET, "Key": d.key}, ExpiresIn=600
                ),
                "fileName": d.key.rsplit("/", 1)[-1],
            },
            "metadata": {"bucket": BUCKET, "key": d.key, "partition": d.partition},
        }
        for d in docs
    ]
    with EmulatorServer(port=0) as emu, ExtendClient(emu.api_key, base_url=emu.base_url) as client:
        batch_id = client.batch_run_workflow(SAMPLE_WORKFLOW_ID, inputs)
        assert emu.wait_idle(60)
        ids = [s.id for s in client.list_workflow_runs(batch_id=batch_id, sort_by="createdAt")]
        review = [r["id"] for r in emu.runs() if r["status"] == "NEEDS_REVIEW"]
        assert review, "the corpus has a document that needs review"
        emu.approve(review[0], reviewed_by="qa@example.com", edits={"invoice_number": "EDIT-1"})
        old = [fetch(emu, run_id, "2025-04-21") for run_id in ids]
        new = [fetch(emu, run_id, "2026-02-09") for run_id in ids]
    assert len(old) == len(docs) and {r["status"] for r in old} >= {"PROCESSED", "FAILED"}
    assert all("stepRuns" in r and "outputs" not in r for r in new)
    return old, new


def test_documents_and_line_items_are_equal_in_both_versions(
    both: tuple[list[dict[str, Any]], list[dict[str, Any]]],
) -> None:
    old, new = both
    schema = next(s for s in map(flatten.extraction_schema, old) if s)
    assert next(s for s in map(flatten.extraction_schema, new) if s) == schema
    documents_old = flatten.flatten_documents(old, schema=schema)
    documents_new = flatten.flatten_documents(new, schema=schema)
    pd.testing.assert_frame_equal(documents_old, documents_new)
    assert documents_old["reviewed_by"].notna().sum() == 1
    assert documents_old["workflow_version"].eq("1").all()
    assert "EDIT-1" in set(documents_old["invoice_number"].dropna())
    items_old = flatten.flatten_line_items(old, schema=schema)
    pd.testing.assert_frame_equal(items_old, flatten.flatten_line_items(new, schema=schema))
    assert len(items_old) > 0
    # Without a schema the inferred columns agree too.
    pd.testing.assert_frame_equal(flatten.flatten_documents(old), flatten.flatten_documents(new))


def split_run_2025() -> dict[str, Any]:
    splits = {"splits": [{"id": "s1", "type": "invoice", "classificationId": "invoice",
                          "observation": "o", "identifier": "INV-1", "startPage": 1,
                          "endPage": 2, "fileId": "file_sub1", "name": "part 1"}]}  # fmt: skip
    return b.workflow_run(
        outputs=[b.processor_run("SPLITTER", splits, files=[{"id": "file_parent"}])]
    )


def test_2026_split_steps_merge_extract_and_rule_validation_flatten_like_2025() -> None:
    old = split_run_2025()
    output = old["outputs"][0]
    extract = {"value": {"invoice_number": "M-1"}, "metadata": {}}
    new = {
        **{k: v for k, v in old.items() if k not in ("outputs", "stepRuns")},
        "stepRuns": [
            {"stepType": "SPLIT", "step": {"type": "SPLIT", "name": "Split"},
             "result": {"splitRun": {"id": output["id"], "output": output["output"],
                                     "file": {"id": "file_parent"}}}},
            {"stepType": "MERGE_EXTRACT", "step": {"type": "MERGE_EXTRACT", "name": "Merge"},
             "result": {"mergedExtractors": [], "extractRun": {
                 "id": "exr_1", "output": extract, "config": {"schema": {"type": "object"}}}}},
            {"stepType": "RULE_VALIDATION", "step": {"type": "RULE_VALIDATION", "name": "Rules"},
             "result": {"rules": [{"name": "total", "valid": False}], "allPassed": False}},
        ],
    }  # fmt: skip
    pd.testing.assert_frame_equal(flatten.flatten_splits([old]), flatten.flatten_splits([new]))
    assert flatten.flatten_documents([new])["invoice_number"].tolist() == ["M-1"]
    assert flatten.validation_results(new) == [
        {"step_name": "Rules", "rules": [{"name": "total", "valid": False}], "all_passed": False}
    ]
