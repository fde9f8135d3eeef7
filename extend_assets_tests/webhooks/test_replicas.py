"""Several receivers on one landing zone: each event lands exactly once.

Three real ``extend-assets webhooks`` processes share one directory or one S3 prefix
(moto behind the local stack). 300 events are delivered to random replicas, with
duplicates, in shuffled order, by many threads at once; a fifth of the events are
sent to all three replicas at the same instant (a barrier) to force the race. The
sensor then settles exactly the groups whose every run has an event.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from extend_assets.localstack import LocalS3Server
from extend_assets.sensing import PollerSettings, SubmittedGroup
from extend_assets.sensing.cursor import SensorCursor
from extend_assets.sensing.events import EventSettler
from extend_assets.webhooks.landing import LandingZone
from extend_assets.webhooks.signature import signed_headers
from extend_assets.webhooks.stores import open_landing_zone
from extend_assets_tests.sensing.fakes import FakeExtend
from extend_assets_tests.webhooks.conftest import SECRET, Receiver, event_body

EVENTS = 300  # 30 per batch; a fifth raced: the count adds volume, the barrier the race
PER_BATCH = EVENTS // 10  # batch_0 .. batch_9 by an event id's last digit


def _deliver(replicas: list[Receiver], seed: int) -> Counter[str]:
    rng = random.Random(seed)
    ids = [f"evt_{seed}_{n:04d}" for n in range(EVENTS)]
    raced = set(rng.sample(ids, EVENTS // 5))
    plain = [(i, rng.randrange(3)) for i in ids if i not in raced]
    plain += [(i, rng.randrange(3)) for i in rng.sample(ids, EVENTS // 2)]  # duplicates
    rng.shuffle(plain)  # reordered
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()
    session = threading.local()

    def post(event_id: str, replica: int) -> None:
        body = event_body(event_id, batchId=f"batch_{event_id[-1]}")
        if not hasattr(session, "s"):
            session.s = requests.Session()
        for attempt in range(3):  # as Extend does: a delivery with no answer is sent again
            try:
                answer = session.s.post(
                    replicas[replica].url,
                    data=body,
                    headers={**signed_headers(body, SECRET), "Content-Type": "application/json"},
                    timeout=60,
                )
                break
            except requests.ConnectionError:  # e.g. a kept-alive connection the server closed
                session.s = requests.Session()
                with lock:
                    outcomes["resent"] += 1
                if attempt == 2:
                    raise
        with lock:
            outcomes[f"{answer.status_code} {answer.json().get('status')}"] += 1

    def race(event_id: str) -> None:
        barrier = threading.Barrier(3)

        def one(replica: int) -> None:
            barrier.wait(timeout=60)
            post(event_id, replica)

        threads = [threading.Thread(target=one, args=(r,)) for r in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)

    with ThreadPoolExecutor(max_workers=12) as pool:
        jobs = [pool.submit(post, i, r) for i, r in plain]
        jobs += [pool.submit(race, i) for i in sorted(raced)]
        for job in jobs:
            job.result()
    return outcomes


@pytest.mark.slow(seconds=50)
@pytest.mark.parametrize("store", ["dir", "s3"])
def test_three_replicas_land_each_of_300_events_once(
    store: str,
    make_receiver: Callable[..., Receiver],
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    env: dict[str, str] = {}
    client = None
    if store == "s3":
        s3: LocalS3Server = request.getfixturevalue("local_s3")
        client = s3.boto3_client()
        bucket = f"replicas-{uuid.uuid4().hex[:12]}"
        client.create_bucket(Bucket=bucket)
        target, env = f"s3://{bucket}/shared", s3.env()
    else:
        target = str(tmp_path / "shared")
    replicas = [make_receiver(target, env=env) for _ in range(3)]
    for replica in replicas:
        replica.start()
    outcomes = _deliver(replicas, seed=22)
    assert set(outcomes) <= {"200 landed", "200 duplicate", "resent"}, outcomes
    zone = open_landing_zone(target, s3_client=client)
    landed = list(zone.iter_after(None, settle_seconds=0))
    assert len(_event_objects(target, client)) == EVENTS  # one object per eventId
    assert len(landed) == EVENTS
    assert len({e.event_id for e in landed}) == EVENTS
    assert all(zone.contains(e.event_id) for e in landed)
    counters = [r.counters() for r in replicas]
    assert sum(c["accepted"] for c in counters) == EVENTS
    resent = outcomes.pop("resent", 0)  # an unanswered delivery may or may not have arrived
    answered = sum(outcomes.values())
    assert answered <= sum(c["accepted"] + c["duplicate"] for c in counters) <= answered + resent
    runs = zone.events_for_runs([f"workflow_run_{landed[0].event_id}"])
    assert [e.event_id for e in runs] == [landed[0].event_id]
    _no_group_settles_early(zone)


def _no_group_settles_early(zone: LandingZone) -> None:
    """The sensor over what the replicas landed: batches 0-8 got every run's event and
    settle; batch 9 has one more run still PENDING (no event) and stays open."""
    start = time.time() - 3600
    groups = [
        SubmittedGroup(
            f"g{d}", (f"p{d}",), (f"batch_{d}",), (), PER_BATCH + 1 if d == 9 else PER_BATCH, start
        )
        for d in range(10)
    ]
    fake = FakeExtend()
    settings = PollerSettings(workflow_id="wf", event_settle_seconds=0.0, event_page_size=97)
    cursor = SensorCursor()
    settled: list[str] = []
    for tick in range(50):  # a busy machine may need more than one tick's time budget
        settler = EventSettler(fake, cursor, settings, time.time, zone)
        if tick == 0:
            settler.add_submissions(groups)
        report = settler.tick()
        settled += [p for r in report.requests for p in r.partitions]
        if not report.out_of_budget:
            break
    assert not report.out_of_budget
    assert sorted(settled) == [f"p{d}" for d in range(9)]
    assert [g.id for g in cursor.open] == ["g9"] and fake.calls["list"] == 0


def _event_objects(target: str, client: object) -> list[str]:
    """Every stored event object (readers' per-page dedupe would hide copies)."""
    if not target.startswith("s3://"):
        return [p.name for p in (Path(target) / "events").glob("*.json")]
    bucket, _, prefix = target[len("s3://") :].partition("/")
    pages = client.get_paginator("list_objects_v2").paginate(  # type: ignore[attr-defined]
        Bucket=bucket, Prefix=f"{prefix}/events/"
    )
    return [item["Key"] for page in pages for item in page.get("Contents", [])]
