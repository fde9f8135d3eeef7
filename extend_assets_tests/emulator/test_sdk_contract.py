"""The official ``extend-ai`` SDK (0.2.0, API 2025-04-21) against the emulator.

If the SDK can drive the emulator and parse every answer into its own types, the
emulator's wire format is the one Extend's users and their tools expect.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from extend_ai import Extend

from extend_assets.emulator import SAMPLE_WORKFLOW_ID, EmulatorServer

INVOICE = "INVOICE\nInvoice Number: SDK-1\nTotal: 99.50 USD\nDue Date: 2025-02-01\n"


@pytest.fixture
def emu() -> Iterator[EmulatorServer]:
    with EmulatorServer(port=0) as server:
        yield server


@pytest.fixture
def sdk(emu: EmulatorServer) -> Extend:
    return Extend(token=emu.api_key, base_url=emu.base_url, extend_api_version="2025-04-21")


def test_sdk_create_get_update_list_cancel_delete(emu: EmulatorServer, sdk: Extend) -> None:
    created = sdk.workflow_run.create(
        workflow_id=SAMPLE_WORKFLOW_ID, raw_texts=[INVOICE], metadata={"source": "sdk"}, priority=10
    )
    assert created.success and len(created.workflow_runs) == 1
    run = created.workflow_runs[0]
    assert run.status == "PENDING" and run.metadata == {"source": "sdk"}
    assert emu.wait_idle(120)

    got = sdk.workflow_run.get(run.id).workflow_run
    assert got.status == "PROCESSED" and got.workflow.id == SAMPLE_WORKFLOW_ID
    kinds = [output.type for output in got.outputs]
    assert kinds == ["CLASSIFY", "EXTRACT"]
    assert got.initial_run_at is not None and got.end_time is not None

    updated = sdk.workflow_run.update(run.id, name="renamed", metadata={"k": 1}).workflow_run
    assert updated.name == "renamed" and updated.metadata == {"source": "sdk", "k": 1}

    listed = sdk.workflow_run.list(
        workflow_id=SAMPLE_WORKFLOW_ID, sort_by="updatedAt", sort_dir="desc"
    )
    assert listed.success and listed.workflow_runs[0].id == run.id
    assert listed.workflow_runs[0].workflow_version_id.startswith("workflow_version_")

    emu.set_throughput(runs_per_minute=0)
    pending = sdk.workflow_run.create(
        workflow_id=SAMPLE_WORKFLOW_ID, raw_texts=["x"]
    ).workflow_runs[0]
    cancelled = sdk.workflow_run.cancel(pending.id)
    assert cancelled.workflow_run.status == "CANCELLING"
    assert emu.wait_idle(120)
    assert sdk.workflow_run.get(pending.id).workflow_run.status == "CANCELLED"
    deleted = sdk.workflow_run.delete(pending.id)
    assert deleted.workflow_run_id == pending.id


def test_sdk_batch_and_pagination(emu: EmulatorServer, sdk: Extend) -> None:
    batch = sdk.batch_workflow_run.create(
        workflow_id=SAMPLE_WORKFLOW_ID,
        inputs=[{"raw_text": f"Invoice Number: P-{i}\n", "metadata": {"i": i}} for i in range(7)],
    )
    assert batch.success and batch.batch_id.startswith("batch_")
    # Sorted by updatedAt (the default), runs still changing would move between pages.
    assert emu.wait_idle(120)
    ids: list[str] = []
    token = None
    for _ in range(10):
        page = sdk.workflow_run.list(
            batch_id=batch.batch_id, max_page_size=3, next_page_token=token
        )
        ids += [r.id for r in page.workflow_runs]
        token = page.next_page_token
        if not token:
            break
    assert len(ids) == 7 == len(set(ids))


def test_sdk_sees_typed_errors(sdk: Extend) -> None:
    from extend_ai.errors import NotFoundError

    with pytest.raises(NotFoundError):
        sdk.workflow_run.get("workflow_run_doesnotexist000000000")
