"""Webhook completion end to end: the real receiver, signed events, the sensor and the outputs.

The emulator sends signed events to ``extend-assets webhooks`` (uvicorn on loopback),
which lands them in a directory; the sensor settles groups from the landed events and
the runs asset takes runs from them, calling Extend only for what no event covers.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from dagster import DagsterInstance, instance_for_test

from extend_assets.emulator.config import WebhookDelivery
from extend_assets_tests.assets.harness import build_on_stack, runner, table
from extend_assets_tests.webhooks import conftest as webhook_fixtures
from extend_assets_tests.webhooks.conftest import (
    E2E_SETTLE_SECONDS,
    SECRET,
    Receiver,
    all_text,
    wait_for,
)

make_receiver = webhook_fixtures.make_receiver  # the receiver fixture, shared

FAST = WebhookDelivery(initial_delay=0.05, multiplier=2.0, max_delay=0.4, timeout=5.0)
GET_RUN = "GET /workflow_runs/{id}"
WEBHOOK_OPTIONS = {"webhook_settle_seconds": E2E_SETTLE_SECONDS, "review_policy": "settle"}


def _stack(documents: int, seed: int, receiver: Receiver, delivery: WebhookDelivery) -> Any:
    from extend_assets.localstack import LocalStack

    return LocalStack(
        documents=documents,
        days=2,
        seed=seed,
        emulator_latency=0.01,
        webhook_url=receiver.url,
        webhook_secret=SECRET,
        webhook_delivery=delivery,
    )


def _pipeline(stack: Any, db_path: Path, instance: DagsterInstance, **options: Any) -> Any:
    return runner(build_on_stack(stack, db_path, **options), instance)


def _documents(db_path: Path) -> pd.DataFrame:
    frame = table(db_path, "extend_extracted_documents")
    return frame.drop(columns=["run_id", "batch_id"]).sort_values("key").reset_index(drop=True)


def _stable(frame: pd.DataFrame) -> pd.DataFrame:
    """The columns both modes must agree on (not the run timestamps or ids)."""
    dropped = [c for c in frame.columns if c in ("created_at", "start_time", "end_time")]
    return frame.drop(columns=dropped)


@pytest.mark.slow(seconds=30)
def test_webhook_mode_survives_a_receiver_restart_duplicates_and_reordering_and_matches_polling(
    make_receiver: Callable[..., Receiver], tmp_path: Path
) -> None:
    landing = tmp_path / "landing"
    receiver = make_receiver(str(landing)).start()
    delivery = dataclasses.replace(
        FAST, max_attempts=200, duplicate_rate=0.3, reorder_window=5, seed=3
    )
    home = tmp_path / "home"
    home.mkdir()
    with (
        _stack(60, 11, receiver, delivery) as stack,
        instance_for_test(temp_dir=str(home)) as instance,
    ):
        partitions = sorted({d.partition for d in stack.documents})
        db_path = tmp_path / "webhooks.duckdb"
        pipeline = _pipeline(
            stack,
            db_path,
            instance,
            completion="webhooks",
            webhook_landing=str(landing),
            raw_runs_dir=str(tmp_path / "raw"),
            **WEBHOOK_OPTIONS,
        )
        stack.emulator.reset_counters()
        pipeline.submit(partitions)
        assert wait_for(lambda: len(list((landing / "events").glob("*.json"))) >= 5, 60)
        receiver.kill()  # events keep coming: the emulator retries while it is down
        sender = stack.emulator.webhooks
        assert sender is not None
        assert wait_for(lambda: sender.stats()["failed_attempts"] >= 3, 60)
        receiver.start()
        # a hang guard, not a speed bound: redeliveries back off while the machine is busy
        report = pipeline.settle(partitions, pause_seconds=0.2, max_ticks=1500)
        assert set(report.settled) == set(partitions)
        assert sender.wait_idle(60)
        counters = stack.emulator.counters()
        assert counters.get(GET_RUN, 0) == 0  # no GET per settled run: every run from events
        assert sender.stats()["duplicates_sent"] > 0

        truth = stack.truth()
        webhook_docs = _documents(db_path)
        assert sorted(webhook_docs["key"]) == sorted(truth)  # each document exactly one row
        assert dict(zip(webhook_docs["key"], webhook_docs["status"], strict=True)) == {
            k: t["expected_status"] for k, t in truth.items()
        }

        # The same corpus through polling gives the same table.
        polling_db = tmp_path / "polling.duckdb"
        (tmp_path / "home2").mkdir()
        with instance_for_test(temp_dir=str(tmp_path / "home2")) as instance2:
            polling = _pipeline(stack, polling_db, instance2, review_policy="settle")
            polling.submit(partitions, reprocess="all")
            polling.settle(partitions, pause_seconds=0.1)
        polling_docs = _documents(polling_db)
        pd.testing.assert_frame_equal(
            _stable(webhook_docs), _stable(polling_docs), check_dtype=False
        )
    # Neither the signing secret nor the API key is in the receiver's log, the landing zone,
    # the raw runs or the Dagster home.
    stored = receiver.log_text() + all_text(landing) + all_text(tmp_path / "raw") + all_text(home)
    assert SECRET not in stored
    assert "emulator-dev-key" not in stored


def test_a_dropped_event_is_reconciled_by_the_api(
    make_receiver: Callable[..., Receiver], tmp_path: Path, instance: DagsterInstance
) -> None:
    landing = tmp_path / "landing"
    receiver = make_receiver(str(landing)).start()
    delivery = dataclasses.replace(FAST, drop_rate=0.25, seed=5)
    with _stack(24, 13, receiver, delivery) as stack:
        partitions = sorted({d.partition for d in stack.documents})
        db_path = tmp_path / "tables.duckdb"
        pipeline = _pipeline(
            stack,
            db_path,
            instance,
            completion="webhooks",
            webhook_landing=str(landing),
            webhook_reconcile_after_seconds=1.0,
            raw_runs_dir=str(tmp_path / "raw"),
            **WEBHOOK_OPTIONS,
        )
        pipeline.submit(partitions)
        # a hang guard, not a speed bound: redeliveries back off while the machine is busy
        report = pipeline.settle(partitions, pause_seconds=0.2, max_ticks=1500)
        assert set(report.settled) == set(partitions)
        sender = stack.emulator.webhooks
        assert sender is not None
        dropped = len(sender.dropped_ids)
        assert dropped > 0
        # Only the runs whose event was lost are fetched one by one.
        assert stack.emulator.counters().get(GET_RUN, 0) == dropped
        docs = _documents(db_path)
        truth = stack.truth()
        assert sorted(docs["key"]) == sorted(truth)
        assert dict(zip(docs["key"], docs["status"], strict=True)) == {
            k: t["expected_status"] for k, t in truth.items()
        }


def test_runs_stream_in_chunks_to_compressed_files(
    tmp_path: Path, instance: DagsterInstance
) -> None:
    """Polling mode with chunk size 4: runs are written file by file, never all at once."""
    from extend_assets.localstack import LocalStack
    from extend_assets.outputs import stream

    written: list[int] = []
    original = stream.RunStream.add

    def spy(self: Any, runs: Any, *, from_events: bool) -> int:
        assert not isinstance(runs, list) or len(runs) <= 4
        count = original(self, runs, from_events=from_events)
        written.append(self.counts.chunks[-1] if self.counts.chunks else 0)
        return count

    with LocalStack(documents=18, days=1, seed=2, emulator_latency=0.0) as stack:
        partitions = sorted({d.partition for d in stack.documents})
        db_path = tmp_path / "tables.duckdb"
        pipeline = _pipeline(
            stack,
            db_path,
            instance,
            runs_chunk_size=4,
            raw_runs_dir=str(tmp_path / "raw"),
            review_policy="settle",
        )
        stream.RunStream.add = spy  # type: ignore[method-assign]
        try:
            pipeline.submit(partitions)
            report = pipeline.settle(partitions, pause_seconds=0.1)
        finally:
            stream.RunStream.add = original  # type: ignore[method-assign]
        assert report.outputs_runs == 1
        sent = sum(1 for d in stack.documents if d.truth["expected_status"] != "SKIPPED")
        runs = table(db_path, "extend_workflow_runs")
        files = sorted((tmp_path / "raw").rglob("*.jsonl.gz"))
        assert len(files) == -(-sent // 4)  # ceil: one file per chunk of 4 runs
        assert max(written) <= 4 and len(written) >= len(files)
        assert runs["raw_uri"].notna().sum() == sent
        assert "raw_json" not in runs.columns
        assert set(runs["raw_uri"].dropna()) == {f.as_uri() for f in files}
        docs = table(db_path, "extend_extracted_documents")
        assert sorted(docs["key"]) == sorted(d.key for d in stack.documents)
