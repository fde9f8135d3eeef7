"""Every method of ExtendClient against wire-exact payloads (a narrow HTTP mock)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import responses
from responses import matchers

from extend_assets.client import (
    ExtendClient,
    WaitTimeoutError,
    WorkflowRunStatus,
)
from extend_assets_tests.client.payloads import BASE, KEY, WORKFLOW, run_json, summary_json


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def client(fake_time: FakeTime) -> Iterator[ExtendClient]:
    with ExtendClient(
        KEY,
        base_url=BASE,
        requests_per_second=None,
        sleep=fake_time.sleep,
        clock=fake_time.clock,
        workspace_id="ws_1",
    ) as c:
        yield c


def body_of(call: Any) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(call.request.body)
    return data


@responses.activate
def test_run_workflow_sends_files_headers_and_cleans_usage_tags(client: ExtendClient) -> None:
    responses.post(
        f"{BASE}/workflow_runs",
        json={"success": True, "workflowRuns": [run_json()]},
        match=[
            matchers.header_matcher(
                {
                    "Authorization": f"Bearer {KEY}",
                    "x-extend-api-version": "2025-04-21",
                    "x-extend-workspace-id": "ws_1",
                    "Content-Type": "application/json",
                }
            )
        ],
    )
    runs = client.run_workflow(
        WORKFLOW,
        files=[{"file_url": "https://s3/x.pdf?X-Amz-Signature=abc", "file_name": "x.pdf"}],
        version="draft",
        priority=7,
        metadata={"key": "x.pdf", "extend:usage_tags": ["team a!", "q1-2025"]},
    )
    assert [r.status for r in runs] == ["PENDING"]
    assert runs[0].workflow_id == WORKFLOW and runs[0].workflow_version == "1"
    assert runs[0].files[0].id == "file_Zk9mNP12rStUvWxYz_AbC"
    sent = body_of(responses.calls[0])
    assert sent == {
        "workflowId": WORKFLOW,
        "files": [{"fileUrl": "https://s3/x.pdf?X-Amz-Signature=abc", "fileName": "x.pdf"}],
        "version": "draft",
        "priority": 7,
        "metadata": {"key": "x.pdf", "extend:usage_tags": ["teama", "q1-2025"]},
    }
    assert responses.calls[0].request.headers["User-Agent"].startswith("extend-assets/")


@responses.activate
def test_run_workflow_raw_texts(client: ExtendClient) -> None:
    responses.post(
        f"{BASE}/workflow_runs",
        json={
            "success": True,
            "workflowRuns": [run_json("workflow_run_a"), run_json("workflow_run_b")],
        },
    )
    runs = client.run_workflow(WORKFLOW, raw_texts=["one", "two"])
    assert [r.id for r in runs] == ["workflow_run_a", "workflow_run_b"]
    assert body_of(responses.calls[0]) == {"workflowId": WORKFLOW, "rawTexts": ["one", "two"]}


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({}, "exactly one of files or raw_texts"),
        ({"files": [{"fileUrl": "u"}], "raw_texts": ["t"]}, "exactly one of files or raw_texts"),
        ({"raw_texts": ["t"] * 51}, "1 to 50"),
        ({"raw_texts": ["t"], "priority": 0}, "priority must be an integer from 1 to 100"),
        ({"raw_texts": ["t"], "priority": 101}, "priority must be an integer from 1 to 100"),
        ({"raw_texts": ["t"], "metadata": {"x": "y" * 10300}}, "at most 10240"),
        ({"files": [{"fileName": "a.pdf"}]}, "fileUrl"),
    ],
)
def test_run_workflow_rejects_bad_input_before_sending(
    client: ExtendClient, kwargs: dict[str, Any], fragment: str
) -> None:
    with responses.RequestsMock() as mock, pytest.raises(ValueError, match=fragment):
        client.run_workflow(WORKFLOW, **kwargs)
    assert len(mock.calls) == 0


@responses.activate
def test_batch_run_and_the_all_helper_split_into_thousands(client: ExtendClient) -> None:
    ids = iter(["batch_aaaaaaa1", "batch_aaaaaaa2", "batch_aaaaaaa3"])
    responses.add_callback(
        responses.POST,
        f"{BASE}/workflow_runs/batch",
        callback=lambda request: (200, {}, json.dumps({"success": True, "batchId": next(ids)})),
    )
    inputs = [
        {"file": {"fileUrl": f"https://s3/{i}.pdf", "fileName": f"{i}.pdf"}, "metadata": {"i": i}}
        for i in range(2500)
    ]
    assert client.batch_run_workflow_all(WORKFLOW, inputs, version="2") == [
        "batch_aaaaaaa1",
        "batch_aaaaaaa2",
        "batch_aaaaaaa3",
    ]
    sizes = [len(body_of(call)["inputs"]) for call in responses.calls]
    assert sizes == [1000, 1000, 500]
    first = body_of(responses.calls[0])
    assert first["version"] == "2" and first["inputs"][0] == {
        "file": {"fileUrl": "https://s3/0.pdf", "fileName": "0.pdf"},
        "metadata": {"i": 0},
    }


@pytest.mark.parametrize(
    ("inputs", "fragment"),
    [
        ([], "1 to 1000"),
        ([{"rawText": "x"}] * 1001, "1 to 1000"),
        ([{"metadata": {}}], "exactly one of 'file' or 'rawText'"),
        ([{"file": {"fileName": "a"}}], "fileUrl"),
        ([{"rawText": "x", "metadata": {"k": "v" * 10241}}], "inputs\\[0\\]: metadata"),
    ],
)
def test_batch_validation(client: ExtendClient, inputs: list[Any], fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        client.batch_run_workflow(WORKFLOW, inputs)


@responses.activate
def test_listing_is_lazy_over_every_page(client: ExtendClient) -> None:
    pages = {
        None: (["workflow_run_1", "workflow_run_2"], "tok:1=="),
        "tok:1==": (["workflow_run_3", "workflow_run_4"], "tok:2=="),
        "tok:2==": (["workflow_run_5"], None),
    }

    def answer(request: Any) -> tuple[int, dict[str, str], str]:
        token = request.params.get("nextPageToken")
        ids, next_token = pages[token]
        body: dict[str, Any] = {"success": True, "workflowRuns": [summary_json(i) for i in ids]}
        if next_token:
            body["nextPageToken"] = next_token
        return 200, {}, json.dumps(body)

    responses.add_callback(responses.GET, f"{BASE}/workflow_runs", callback=answer)
    iterator = client.list_workflow_runs(
        workflow_id=WORKFLOW, status="PROCESSED", sort_by="updatedAt", sort_dir="desc", page_size=2
    )
    first = next(iterator)
    assert first.id == "workflow_run_1" and len(responses.calls) == 1
    rest = [s.id for s in iterator]
    assert rest == ["workflow_run_2", "workflow_run_3", "workflow_run_4", "workflow_run_5"]
    assert len(responses.calls) == 3
    params = responses.calls[1].request.params  # type: ignore[attr-defined]
    assert params == {
        "workflowId": WORKFLOW,
        "status": "PROCESSED",
        "sortBy": "updatedAt",
        "sortDir": "desc",
        "maxPageSize": "2",
        "nextPageToken": "tok:1==",
    }
    assert first.updated_at == datetime(2025, 4, 28, 17, 5, tzinfo=UTC)
    assert first.usage_credits == 2.5 and first.batch_id == "batch_kCz2ht2a"


@responses.activate
def test_one_page_with_a_token_for_callers_with_a_cursor(client: ExtendClient) -> None:
    responses.get(
        f"{BASE}/workflow_runs",
        json={
            "success": True,
            "workflowRuns": [summary_json("workflow_run_9")],
            "nextPageToken": None,
        },
    )
    page = client.list_workflow_runs_page(batch_id="batch_x", page_token="abc")
    assert [r.id for r in page.runs] == ["workflow_run_9"] and page.next_page_token is None
    assert responses.calls[0].request.params == {  # type: ignore[attr-defined]
        "batchId": "batch_x",
        "nextPageToken": "abc",
    }


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"page_size": 0}, "page_size must be from 1 to 1000"),
        ({"page_size": 1001}, "page_size must be from 1 to 1000"),
        ({"sort_by": "name"}, "sort_by must be one of updatedAt, createdAt"),
        ({"sort_dir": "up"}, "sort_dir must be one of asc, desc"),
    ],
)
def test_list_validation(client: ExtendClient, kwargs: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        client.list_workflow_runs_page(**kwargs)


@responses.activate
def test_get_update_cancel_delete(client: ExtendClient) -> None:
    rid = "workflow_run_8k9m-xyzAB_cdefGHijk"
    responses.get(f"{BASE}/workflow_runs/{rid}", json={"success": True, "workflowRun": run_json()})
    responses.post(
        f"{BASE}/workflow_runs/{rid}",
        json={"success": True, "workflowRun": run_json(name="renamed", metadata={"a": 1})},
    )
    responses.post(
        f"{BASE}/workflow_runs/{rid}/cancel",
        json={"success": True, "workflowRun": run_json(status="CANCELLED")},
    )
    responses.delete(
        f"{BASE}/workflow_runs/{rid}",
        json={
            "success": True,
            "workflowRunId": rid,
            "message": "Workflow run data has been successfully deleted.",
        },
    )
    assert client.get_workflow_run(rid).id == rid
    updated = client.update_workflow_run(rid, name="renamed", metadata={"a": 1})
    assert updated.name == "renamed" and updated.metadata == {"a": 1}
    assert body_of(responses.calls[1]) == {"name": "renamed", "metadata": {"a": 1}}
    assert client.cancel_workflow_run(rid).status == WorkflowRunStatus.CANCELLED
    assert client.delete_workflow_run(rid) == rid
    assert client.request_count == 4


@responses.activate
def test_wait_for_run_polls_to_a_terminal_status(client: ExtendClient, fake_time: FakeTime) -> None:
    rid = "workflow_run_w"
    for status in ("PENDING", "PROCESSING", "NEEDS_REVIEW"):
        responses.get(
            f"{BASE}/workflow_runs/{rid}",
            json={"success": True, "workflowRun": run_json(rid, status=status)},
        )
    run = client.wait_for_run(rid, timeout=60, poll_interval=5)
    assert run.status == "NEEDS_REVIEW" and fake_time.slept == [5, 5]


@responses.activate
def test_wait_for_run_times_out_clearly(client: ExtendClient) -> None:
    responses.get(
        f"{BASE}/workflow_runs/workflow_run_s",
        json={"success": True, "workflowRun": run_json("workflow_run_s", status="PROCESSING")},
    )
    with pytest.raises(WaitTimeoutError, match="workflow_run_s is still PROCESSING after 10 s"):
        client.wait_for_run("workflow_run_s", timeout=10, poll_interval=3)


@responses.activate
def test_create_and_poll(client: ExtendClient) -> None:
    responses.post(
        f"{BASE}/workflow_runs",
        json={"success": True, "workflowRuns": [run_json("workflow_run_c")]},
    )
    responses.get(
        f"{BASE}/workflow_runs/workflow_run_c",
        json={"success": True, "workflowRun": run_json("workflow_run_c", status="PROCESSED")},
    )
    run = client.create_and_poll(WORKFLOW, raw_text="hello", max_wait=30)
    assert run.status == "PROCESSED"
    assert body_of(responses.calls[0]) == {"workflowId": WORKFLOW, "rawTexts": ["hello"]}
