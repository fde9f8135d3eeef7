# mypy: ignore-errors
# (type-checked against extend-ai 0.2.0, the venv's; this file runs with 1.20.0)
"""Drives the emulator with the official ``extend-ai`` 1.20.0 SDK (API 2026-02-09).

Run in a subprocess whose ``sys.path`` holds SDK 1.20.0 (it shares the package name
``extend_ai`` with the 0.2.0 this venv has): ``python sdk120_driver.py BASE_URL KEY``.
Every workflow-run endpoint and every declared error status is exercised; every
answer is parsed twice, as the SDK does (lenient) and strictly (pydantic validation
of the SDK's own type for that endpoint). Prints a JSON report; exits 1 on failure.
"""

from __future__ import annotations

import json
import re
import sys
import time
from typing import Any

import httpx

INVOICE = "INVOICE\nInvoice Number: SDK-26\nTotal: 99.50 USD\nDue Date: 2026-02-01\n"


def main(base_url: str, key: str, workflow_id: str) -> dict[str, Any]:
    import extend_ai
    from extend_ai import Extend
    from extend_ai.core.pydantic_utilities import parse_obj_as
    from extend_ai.errors import (
        BadRequestError,
        ForbiddenError,
        InternalServerError,
        NotFoundError,
        PaymentRequiredError,
        TooManyRequestsError,
        UnauthorizedError,
        UnprocessableEntityError,
    )
    from extend_ai.types import ApiError as ApiErrorBody
    from extend_ai.types import WorkflowRun
    from extend_ai.workflow_runs.types import (
        WorkflowRunsCreateBatchResponse,
        WorkflowRunsDeleteResponse,
        WorkflowRunsListResponse,
    )
    from extend_ai.wrapper.polling import PollingOptions

    assert extend_ai.__file__ and "1.20.0" in _sdk_version(), _sdk_version()
    seen: list[tuple[str, str, int, Any]] = []

    def record(response: httpx.Response) -> None:
        response.read()
        try:
            body = response.json()
        except ValueError:
            body = None
        seen.append(
            (response.request.method, response.request.url.path, response.status_code, body)
        )

    http = httpx.Client(timeout=30, event_hooks={"response": [record]})
    sdk = Extend(token=key, base_url=base_url, httpx_client=http)
    control = httpx.Client(base_url=base_url, timeout=10)
    report: dict[str, Any] = {}
    no_retry = {"max_retries": 0}

    created = sdk.workflow_runs.create(
        workflow={"id": workflow_id}, file={"text": INVOICE, "name": "inv.txt"},
        metadata={"source": "sdk120", "extend:usage_tags": ["team a!"]}, priority=10,
    )  # fmt: skip
    assert created.object == "workflow_run" and created.status in ("PENDING", "PROCESSING")
    assert created.metadata == {"source": "sdk120", "extend:usage_tags": ["teama"]}
    assert created.workflow.id == workflow_id and created.workflow_version.version == "1"
    assert created.files[0].name == "inv.txt" and created.dashboard_url

    done = sdk.workflow_runs.create_and_poll(
        workflow={"id": workflow_id, "version": "1"}, file={"text": INVOICE},
        polling_options=PollingOptions(max_wait_ms=20_000, fast_poll_interval_ms=100),
    )  # fmt: skip
    assert done.status == "PROCESSED", done.status
    kinds = [(s.step_type, s.step.type) for s in done.step_runs]
    assert kinds == [("CLASSIFY", "CLASSIFY"), ("EXTRACT", "EXTRACT")], kinds
    extract = done.step_runs[1].result.extract_run
    assert extract.object == "extract_run" and extract.id.startswith("exr_")
    assert extract.output.value["invoice_number"] == "SDK-26"
    citation = extract.output.metadata["invoice_number"].citations[0]
    assert citation.page.number == 1 and citation.page.width and citation.page.height
    assert done.usage is not None and done.usage.total_credits == done.usage.credits
    assert [b.object for b in done.usage.breakdown] == ["classify_run", "extract_run"]
    report["create_and_poll"] = done.status

    got = sdk.workflow_runs.retrieve(created.id)
    assert got.id == created.id and got.reviewed is False and got.reviewed_by_user is None
    updated = sdk.workflow_runs.update(created.id, metadata={"k": 1})
    assert updated.metadata["k"] == 1 and updated.metadata["source"] == "sdk120"

    batch = sdk.workflow_runs.create_batch(
        workflow={"id": workflow_id},
        inputs=[{"file": {"text": f"Invoice Number: B-{i}\n"}, "metadata": {"i": i}} for i in range(5)],
        priority=20,
    )  # fmt: skip
    assert batch.batch_id.startswith("batch_")
    _wait_idle(control)
    ids: list[str] = []
    token = None
    for _ in range(10):
        page = sdk.workflow_runs.list(batch_id=batch.batch_id, max_page_size=2, next_page_token=token,
                                      sort_by="createdAt", sort_dir="asc")  # fmt: skip
        assert page.object == "list"
        ids += [r.id for r in page.data]
        assert all(r.files and r.workflow.id == workflow_id for r in page.data)
        token = page.next_page_token
        if not token:
            break
    assert len(ids) == 5 == len(set(ids)), ids
    listed = sdk.workflow_runs.list(
        workflow_id=workflow_id, status="PROCESSED", file_name_contains="inv"
    )
    assert created.id in [r.id for r in listed.data]

    package = sdk.workflow_runs.create(
        workflow={"id": workflow_id}, package={"files": [{"id": "file_a"}, {"id": "file_b"}]}
    )
    assert len(package.files) == 2

    control.post("/_emulator/throughput", json={"runs_per_minute": 0})
    pending = sdk.workflow_runs.create(workflow={"id": workflow_id}, file={"text": "x"})
    cancelled = sdk.workflow_runs.cancel(pending.id)
    assert cancelled.status in ("CANCELLING", "CANCELLED")
    _wait_idle(control)
    assert sdk.workflow_runs.retrieve(pending.id).status == "CANCELLED"
    assert sdk.workflow_runs.delete(pending.id).id == pending.id
    control.post("/_emulator/throughput", json={"runs_per_minute": None})

    errors: dict[str, Any] = {}

    def expect(name: str, kind: type[Exception], call: Any) -> None:
        try:
            call()
        except kind as exc:
            errors[name] = getattr(exc, "status_code", None)
            return
        raise AssertionError(f"{name}: no {kind.__name__}")

    expect("400", BadRequestError, lambda: sdk.workflow_runs.cancel(created.id))
    bad = Extend(token="sk_wrong", base_url=base_url, httpx_client=http)
    expect("401", UnauthorizedError, lambda: bad.workflow_runs.list())
    control.post("/_emulator/faults", json={"usage_blocked": True})
    expect("402", PaymentRequiredError, lambda: sdk.workflow_runs.create(
        workflow={"id": workflow_id}, file={"text": "x"}))  # fmt: skip
    control.post("/_emulator/faults", json={"forbidden": True})
    expect("403", ForbiddenError, lambda: sdk.workflow_runs.retrieve(created.id))
    control.post("/_emulator/faults", json={})
    expect("404", NotFoundError, lambda: sdk.workflow_runs.retrieve("workflow_run_nope"))
    expect("422", UnprocessableEntityError, lambda: sdk.workflow_runs.create(
        workflow={"id": workflow_id}, file={"text": "x"}, priority=0))  # fmt: skip
    control.post("/_emulator/faults", json={"rate_limit_burst": 1})
    expect("429", TooManyRequestsError, lambda: sdk.workflow_runs.list(request_options=no_retry))
    control.post("/_emulator/faults", json={"error_rate": 1.0, "error_status": 500})
    expect("500", InternalServerError, lambda: sdk.workflow_runs.list(request_options=no_retry))
    control.post("/_emulator/faults", json={})
    report["errors"] = errors

    # Strictly parse every answer with the SDK's type for its endpoint.
    run_path = re.compile(r"^/workflow_runs/[^/]+$")
    checked = 0
    for method, path, status, body in seen:
        if status >= 400:
            parsed = parse_obj_as(ApiErrorBody, body)
            assert parsed.code and parsed.message and parsed.retryable in (True, False), body
            assert parsed.retryable == (status in (429, 500)), (status, body)
        elif path == "/workflow_runs/batch":
            parse_obj_as(WorkflowRunsCreateBatchResponse, body)
        elif path == "/workflow_runs" and method == "GET":
            parse_obj_as(WorkflowRunsListResponse, body)
        elif method == "DELETE":
            parse_obj_as(WorkflowRunsDeleteResponse, body)
            assert set(body) == {"id"}
        elif path == "/workflow_runs" or run_path.match(path) or path.endswith("/cancel"):
            run = parse_obj_as(WorkflowRun, body)
            assert "success" not in body and run.object == "workflow_run"
        else:
            raise AssertionError(f"unexpected answer {method} {path}")
        checked += 1
    report["strictly_parsed"] = checked
    return report


def _sdk_version() -> str:
    from importlib.metadata import version

    return version("extend-ai")


def _wait_idle(control: httpx.Client, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if control.get("/_emulator/idle").json().get("idle"):
            return
        time.sleep(0.05)
    raise AssertionError("the emulator did not settle")


if __name__ == "__main__":
    try:
        print(json.dumps(main(*sys.argv[1:4])))
    except AssertionError as failure:
        import traceback

        traceback.print_exc()
        print(json.dumps({"failed": str(failure)}))
        sys.exit(1)
