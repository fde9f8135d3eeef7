"""The emulator delivers signed events to the real receiver through downtime and faults."""

from __future__ import annotations

import dataclasses
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from extend_assets.client import ExtendClient
from extend_assets.emulator import SAMPLE_WORKFLOW_ID, EmulatorServer
from extend_assets.emulator.config import WebhookDelivery
from extend_assets.localstack.s3 import LocalS3Server
from extend_assets.webhooks.stores import open_landing_zone
from extend_assets_tests.webhooks.conftest import (
    SECRET,
    Receiver,
    all_text,
    landed_files,
    wait_for,
)

FAST = WebhookDelivery(initial_delay=0.05, multiplier=2.0, max_delay=0.4, timeout=5.0)


def _submit(emulator: EmulatorServer, count: int, tag: str) -> str:
    with ExtendClient(emulator.api_key, base_url=emulator.base_url) as client:
        inputs = [{"rawText": f"Invoice Number: {tag}-{n}\n"} for n in range(count)]
        return client.batch_run_workflow(SAMPLE_WORKFLOW_ID, inputs)


def _ids_per_file(root: Path) -> Counter[str]:
    return Counter(p.stem.split("_", 1)[1] for p in landed_files(root))


def test_no_event_is_lost_while_the_receiver_is_killed_and_restarted(
    make_receiver: Callable[..., Receiver], tmp_path: Path
) -> None:
    landing = tmp_path / "landing"
    receiver = make_receiver(str(landing)).start()
    delivery = dataclasses.replace(FAST, max_attempts=200)
    with EmulatorServer(
        port=0,
        latency=0.1,
        workers=1,
        webhook_url=receiver.url,
        webhook_secret=SECRET,
        webhook_delivery=delivery,
    ) as emulator:
        sender = emulator.webhooks
        assert sender is not None
        batch_id = _submit(emulator, 30, "K")
        assert wait_for(lambda: len(landed_files(landing)) >= 5)
        receiver.kill()  # mid-flow: about 25 runs are still to finish
        assert wait_for(lambda: sender.stats()["failed_attempts"] >= 3)
        assert emulator.wait_idle(60)  # every run settled while the receiver was down
        assert sender.stats()["pending"] > 0
        receiver.start()
        assert sender.wait_idle(60)
        stats = sender.stats()
        assert stats["events"] == 30 and stats["delivered"] == 30 and stats["undelivered"] == 0
        per_file = _ids_per_file(landing)
        assert set(per_file) == set(sender.event_ids)
        assert set(per_file.values()) == {1}  # each eventId landed once
        zone = open_landing_zone(str(landing))
        events = zone.events_for_batches([batch_id])
        assert len({e.run_id for e in events}) == 30
        assert {e.run_id for e in events} == {r["id"] for r in emulator.runs()}
    assert SECRET not in receiver.log_text() + all_text(landing)


def test_duplicated_reordered_and_dropped_events_land_once_each_in_s3(
    make_receiver: Callable[..., Receiver], local_s3: LocalS3Server
) -> None:
    bucket = f"hooks-{uuid.uuid4().hex[:12]}"
    client = local_s3.boto3_client()
    client.create_bucket(Bucket=bucket)
    receiver = make_receiver(f"s3://{bucket}/extend/events", env=local_s3.env()).start()
    delivery = dataclasses.replace(
        FAST,
        max_attempts=20,
        duplicate_rate=0.5,
        reorder_window=5,
        reorder_hold=0.1,
        drop_rate=0.15,
        seed=11,
    )
    with EmulatorServer(
        port=0,
        workers=1,
        webhook_url=receiver.url,
        webhook_secret=SECRET,
        webhook_delivery=delivery,
    ) as emulator:
        sender = emulator.webhooks
        assert sender is not None
        _submit(emulator, 40, "D")
        assert emulator.wait_idle(60)
        assert sender.wait_idle(60)
        stats = sender.stats()
        expected = set(sender.event_ids) - set(sender.dropped_ids)
        assert stats["events"] == 40 and stats["dropped"] > 0 and stats["duplicates_sent"] > 0
        assert set(sender.delivered_ids) == expected
        sent_order = [e for e in sender.event_ids if e in expected]
        assert sender.delivered_ids != sent_order  # reordered
    zone = open_landing_zone(f"s3://{bucket}/extend/events", s3_client=client)
    landed = list(zone.iter_after(None, settle_seconds=0))
    assert sorted(e.event_id for e in landed) == sorted(expected)  # once each, none dropped extra
    keys = [
        obj["Key"]
        for obj in client.list_objects_v2(Bucket=bucket, Prefix="extend/events/events/")["Contents"]
    ]
    assert len(keys) == len(expected)
    counters = receiver.counters()
    assert counters["accepted"] == len(expected)
    assert counters["duplicate"] == stats["duplicates_sent"]
    for key in keys:
        body = client.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
        assert SECRET not in body
    assert SECRET not in receiver.log_text()
