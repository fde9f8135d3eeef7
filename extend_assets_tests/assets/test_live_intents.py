"""A fresh intent of a live Dagster run is never abandoned by another run's reconcile."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from dagster import AssetKey, AssetObservation, DagsterEventType, DagsterInstance
from dagster._core.events import AssetObservationData, DagsterEvent
from dagster._core.events.log import EventLogEntry
from dagster._core.storage.dagster_run import DagsterRun

from extend_assets import event_log
from extend_assets.event_log import EventLogLedger
from extend_assets.submission.ledger import DocumentVersion, LedgerEvent
from extend_assets_tests.assets.harness import build, metadata_value, put_texts, runner

DAY = "2025-01-15"
BATCHES = AssetKey(["t", "extend_workflow_batches"])


def record_intent_of_another_run(
    instance: DagsterInstance, run_id: str, docs: list[DocumentVersion]
) -> str:
    """What a concurrent run writes just before its POST: an intent, from its own run."""
    instance.add_run(DagsterRun(job_name="t_extend_submit", run_id=run_id))
    instance.handle_run_event(
        run_id,
        DagsterEvent(DagsterEventType.RUN_START.value, job_name="t_extend_submit"),
    )
    event = LedgerEvent("sub_" + uuid.uuid4().hex, "intent", DAY, time.time(), tuple(docs))
    observation: AssetObservation = EventLogLedger(instance, BATCHES).observation(event)
    dagster_event = DagsterEvent(
        DagsterEventType.ASSET_OBSERVATION.value,
        job_name="t_extend_submit",
        event_specific_data=AssetObservationData(observation),
    )
    instance.store_event(
        EventLogEntry(
            error_info=None,
            level="INFO",
            user_message="",
            run_id=run_id,
            timestamp=time.time(),
            dagster_event=dagster_event,
        )
    )
    return event.submission_id


def test_a_live_runs_open_intent_is_left_alone_and_its_documents_not_resent(
    monkeypatch: pytest.MonkeyPatch,
    extend_emulator: Any,
    local_s3: Any,
    s3_client: Any,
    bucket: str,
    instance: DagsterInstance,
    db_path: Path,
) -> None:
    extend_emulator.set_throughput(runs_per_minute=1)  # the other run below never ends:
    monkeypatch.setattr(event_log, "WAIT_FOR_WINNERS_SECONDS", 1.0, raising=False)
    keys = [f"docs/{DAY}/doc-{i}.txt" for i in range(6)]
    put_texts(s3_client, bucket, keys)
    etags = {key: s3_client.head_object(Bucket=bucket, Key=key)["ETag"].strip('"') for key in keys}
    defs, _ = build(
        extend_emulator, local_s3, db_path, bucket=bucket, prefix_template="docs/{date}/"
    )
    other_run = uuid.uuid4().hex
    held = [DocumentVersion(bucket, key, etags[key]) for key in keys[:4]]
    sub_id = record_intent_of_another_run(instance, other_run, held)

    result = runner(defs, instance).submit([DAY])
    # The other run's POST may be in flight: its intent stays open, its 4 documents unsent.
    assert metadata_value(result, "extend_workflow_batches", "documents_submitted") == 2
    assert sorted(s["metadata"]["key"] for s in extend_emulator.submissions()) == keys[4:]
    ledger = EventLogLedger(instance, BATCHES).read([DAY])[DAY]
    assert ledger.submissions[sub_id].is_open

    # The other run dies without posting: once Dagster marks it failed, it is reconciled.
    run = instance.get_run_by_id(other_run)
    assert run is not None
    instance.report_run_failed(run, "worker lost")
    again = runner(defs, instance).submit([DAY])
    assert metadata_value(again, "extend_workflow_batches", "documents_submitted") == 4
    assert sorted(s["metadata"]["key"] for s in extend_emulator.submissions()) == sorted(keys)
    assert int(extend_emulator.counters()["POST /workflow_runs/batch"]) == 2
