"""Realistic WorkflowRun payloads (reference §3), built the way the API returns them."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

SAMPLE = Path(__file__).resolve().parents[2] / "extend_assets" / "samples" / "invoice_workflow.yaml"


def invoice_schema() -> dict[str, Any]:
    """The sample workflow's extraction schema (the contract the emulator follows)."""
    workflows = yaml.safe_load(SAMPLE.read_text())["workflows"]
    steps = workflows[0]["steps"]
    schema: dict[str, Any] = next(s for s in steps if s["type"] == "EXTRACT")["schema"]
    return copy.deepcopy(schema)


def invoice_value(**overrides: Any) -> dict[str, Any]:
    value: dict[str, Any] = {
        "invoice_number": "INV-0042",
        "invoice_date": "2025-01-15",
        "due_date": "2025-02-14",
        "purchase_order": "PO-77",
        "vendor": {
            "name": "Acme Supplies",
            "address": "1 Main St",
            "tax_id": "12-345",
            "email": "ar@acme.test",
        },
        "customer": {"name": "Globex", "address": "9 Side Rd"},
        "subtotal": {"amount": 100.0, "iso_4217_currency_code": "USD"},
        "tax": {"amount": 8.25, "iso_4217_currency_code": "USD"},
        "total": {"amount": 108.25, "iso_4217_currency_code": "USD"},
        "tax_rate": 0.0825,
        "payment_terms": "NET_30",
        "is_paid": False,
        "notes": "Thanks",
        "line_items": [
            {
                "description": "Widget",
                "sku": "W-1",
                "quantity": 2,
                "unit_price": 25.0,
                "amount": 50.0,
            },
            {
                "description": "Gadget",
                "sku": "G-1",
                "quantity": 1,
                "unit_price": 50.0,
                "amount": 50.0,
            },
        ],
    }
    value.update(overrides)
    return value


def metadata_for(value: dict[str, Any], confidence: float = 0.9) -> dict[str, Any]:
    """A metadata entry per leaf path (``vendor.name``, ``line_items[0].amount``)."""
    entries: dict[str, Any] = {}

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict) and set(node) != {"amount", "iso_4217_currency_code"}:
            for key, child in node.items():
                walk(child, f"{path}.{key}" if path else key)
        elif isinstance(node, list):
            for index, item in enumerate(node):
                walk(item, f"{path}[{index}]")
        else:
            entries[path] = {
                "ocrConfidence": None,
                "logprobsConfidence": confidence,
                "citations": [{"page": 1, "referenceText": str(node)}],
                "insights": [],
            }

    walk(value, "")
    return entries


def processor_run(
    kind: str,
    output: Any,
    *,
    reviewed_output: Any = None,
    edited: bool = False,
    config: dict[str, Any] | None = None,
    files: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    reviewed = reviewed_output is not None
    return {
        "object": "document_processor_run",
        "id": f"dpr_{kind.lower():x<20}"[:24],
        "processorId": "dp_xxxxxxxxxxxxxxxxxxxx",
        "processorVersionId": "dpv_xxxxxxxxxxxxxxxxxxx",
        "processorName": kind.title(),
        "status": "PROCESSED",
        "output": reviewed_output if reviewed else output,
        "initialOutput": output,
        "reviewedOutput": reviewed_output,
        "failureReason": None,
        "failureMessage": None,
        "metadata": None,
        "reviewed": reviewed,
        "edited": edited,
        "edits": {},
        "type": kind,
        "config": config if config is not None else {"type": kind},
        "files": files or [],
        "mergedProcessors": [],
        "url": "https://dashboard.extend.ai/runs/dpr_x",
        "usage": {"credits": 1.0},
    }


def extract_run(
    value: dict[str, Any] | None = None,
    *,
    metadata: dict[str, Any] | None = None,
    reviewed_value: dict[str, Any] | None = None,
    schema: dict[str, Any] | None = None,
) -> dict[str, Any]:
    value = invoice_value() if value is None else value
    output = {"value": value, "metadata": metadata_for(value) if metadata is None else metadata}
    reviewed = None
    if reviewed_value is not None:
        reviewed = {"value": reviewed_value, "metadata": metadata_for(reviewed_value, 1.0)}
    return processor_run(
        "EXTRACT",
        output,
        reviewed_output=reviewed,
        edited=reviewed_value is not None,
        config={"type": "EXTRACT", "schema": schema if schema is not None else invoice_schema()},
    )


def classify_run(kind: str = "invoice", confidence: float = 0.97) -> dict[str, Any]:
    return processor_run(
        "CLASSIFY", {"id": kind, "type": kind, "confidence": confidence, "insights": []}
    )


def workflow_run(
    run_id: str = "workflow_run_000000000000000000001",
    *,
    status: str = "PROCESSED",
    outputs: list[dict[str, Any]] | None = None,
    key: str = "invoices/2025-01-15/inv-1.pdf",
    partition: str = "2025-01-15",
    initial_run_at: str = "2025-01-15T10:00:00.123Z",
    **fields: Any,
) -> dict[str, Any]:
    run: dict[str, Any] = {
        "object": "workflow_run",
        "id": run_id,
        "name": key.rsplit("/", 1)[-1],
        "url": f"https://dashboard.extend.ai/workflows/workflow_x?workflowRunId={run_id}",
        "status": status,
        "metadata": {"bucket": "docs", "key": key, "etag": '"abc"', "partition": partition},
        "batchId": "batch_kCz2ht2a",
        "files": [
            {
                "object": "file",
                "id": "file_parent000000000000000",
                "name": key.rsplit("/", 1)[-1],
                "type": "PDF",
                "presignedUrl": None,
                "parentFileId": None,
                "contents": None,
                "metadata": {"pageCount": 3, "parentSplit": None},
                "createdAt": initial_run_at,
                "updatedAt": initial_run_at,
            }
        ],
        "failureReason": None,
        "failureMessage": None,
        "initialRunAt": initial_run_at,
        "reviewedBy": None,
        "reviewed": False,
        "rejectionNote": None,
        "reviewedAt": None,
        "startTime": "2025-01-15T10:00:01.000000+00:00",
        "endTime": "2025-01-15T10:00:09.500000+00:00",
        "outputs": [classify_run(), extract_run()] if outputs is None else outputs,
        "stepRuns": [],
        "workflow": {
            "object": "workflow",
            "id": "workflow_sampleInvoices0000000",
            "version": "1",
            "name": "Invoice extraction (sample)",
        },
        "usage": {"credits": 3.5},
    }
    run.update(fields)
    return run


def failed_run(run_id: str = "workflow_run_failed00000000000001") -> dict[str, Any]:
    return workflow_run(
        run_id,
        status="FAILED",
        outputs=[],
        failureReason="FAILED_TO_PROCESS_FILE",
        failureMessage="The file could not be downloaded.",
        startTime=None,
        endTime=None,
        usage=None,
    )
