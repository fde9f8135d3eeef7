"""The runs step in webhook mode without Dagster: landed events in, raw files and runs table out.

What ``extend_workflow_runs`` does between its ledger and its frame when every run has
a landed event: list the landing zone's index, read the events, match them to the
ledger and write the raw files (``RunStream.take_events``), then build the runs frame.
The listing of the batches through the API (one call per batch) and Dagster's part are
not in it: next to the outputs benchmark's step times it tells the engine's cost apart.

Two landing zones: a local directory (on disk: 100k events are ~2.7 GB) and the local
S3 (moto, in the servers' own process), read ``S3LandingZone.read_workers`` GetObjects
at a time. The events are the outputs benchmark's invoice run as the emulator answers
it (~25 KB), copied with fresh ids, written straight in the landing layout (landing
them through the receiver is the outputs benchmark's set-up, not measured here).

    .venv/bin/python -m bench.runs_step_bench --documents 10000 --s3-documents 10000
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

DAY = "2025-01-15"
BATCH_RUNS = 1000  # runs per batch, as submitted
CHUNK = 250  # runs_chunk_size's default
T0 = datetime(2025, 1, 15, tzinfo=UTC)


def _records(count: int) -> Iterator[tuple[str, str, bytes]]:
    """(batch id, position, landed record) of ``count`` run events."""
    from bench.tables_bench import emulator_runs
    from extend_assets.client import SUBMISSION_METADATA_KEY
    from extend_assets.webhooks.landing import LANDING_FORMAT, event_position

    templates = emulator_runs(50)
    for n in range(count):
        run = dict(templates[n % len(templates)])
        run["id"] = f"workflow_run_{n:021d}"
        run["batchId"] = batch = f"batch_{n // BATCH_RUNS:05d}"
        run["metadata"] = {"bucket": "bench", "key": _key(n), "etag": f"etag{n}",
                           SUBMISSION_METADATA_KEY: "s1"}  # fmt: skip
        event_id = f"evt_{n:010d}"
        position = event_position(event_id, T0 + timedelta(milliseconds=n))
        record = {"landingFormat": LANDING_FORMAT, "eventId": event_id,
                  "eventType": "workflow_run.completed", "apiVersion": "2025-04-21",
                  "receivedAt": T0.isoformat(), "runId": run["id"], "batchId": batch,
                  "runStatus": run["status"], "deliveredAs": "json", "payload": run}  # fmt: skip
        yield batch, position, json.dumps(record, separators=(",", ":")).encode()


def _key(n: int) -> str:
    return f"d/{DAY}/inv-{n:07d}.txt"


def land_in_directory(root: Path, count: int) -> None:
    for batch, position, body in _records(count):
        (root / "by-batch" / batch).mkdir(parents=True, exist_ok=True)
        (root / "events").mkdir(exist_ok=True)
        (root / "events" / f"{position}.json").write_bytes(body)
        (root / "by-batch" / batch / position).write_bytes(b"")


def land_in_s3(client: Any, bucket: str, count: int) -> None:
    def put(item: tuple[str, str, bytes]) -> None:
        batch, position, body = item
        client.put_object(Bucket=bucket, Key=f"hooks/events/{position}.json", Body=body)
        client.put_object(Bucket=bucket, Key=f"hooks/by-batch/{batch}/{position}", Body=b"")

    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(put, _records(count)))


def ledger(count: int) -> pd.DataFrame:
    from extend_assets.submission.ledger_table import LEDGER_COLUMNS, as_strings

    frame = pd.DataFrame(
        {"partition": DAY, "partition_date": pd.Timestamp(DAY), "bucket": "bench",
         "key": [_key(n) for n in range(count)], "etag": [f"etag{n}" for n in range(count)],
         "file_name": "x", "submission_id": "s1",
         "batch_id": [f"batch_{n // BATCH_RUNS:05d}" for n in range(count)], "run_id": None,
         "submitted_at": pd.Timestamp(0, tz="UTC"), "reconciled": False},
        columns=LEDGER_COLUMNS,
    )  # fmt: skip
    text = ["partition", "bucket", "key", "etag", "file_name", "submission_id", "batch_id"]
    return as_strings(frame, [*text, "run_id"])


def runs_step(zone: Any, count: int, out: Path) -> dict[str, Any]:
    """The runs step's engine on ``zone``: seconds, CPU seconds, documents/s."""
    from extend_assets.outputs.frames import run_frame
    from extend_assets.outputs.raw_files import RawRunWriter
    from extend_assets.outputs.stream import LedgerMatcher, RunStream

    entries = ledger(count)
    batches = sorted(set(entries["batch_id"]))
    wanted: dict[str, str | None] = {f"workflow_run_{n:021d}": "PROCESSED" for n in range(count)}
    wall, cpu = time.perf_counter(), time.process_time()
    matcher = LedgerMatcher(entries)
    with RawRunWriter(out, CHUNK) as writer:
        stream = RunStream(matcher, writer)
        read = getattr(zone, "iter_runs_for", zone.iter_events_for)  # older checkouts
        stream.take_events(read(runs=[], batches=batches), wanted, CHUNK)
        stream.save_extractors()
    frame = matcher.frame() if hasattr(matcher, "frame") else run_frame(matcher.rows)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    if stream.counts.from_events != count or frame["raw_uri"].isna().any():
        raise RuntimeError(f"the runs step took {stream.counts.from_events} of {count} runs")
    size = sum(p.stat().st_size for p in out.iterdir())
    return {"documents": count, "seconds": round(wall, 2), "cpu_seconds": round(cpu, 2),
            "documents_per_second": round(count / wall), "raw_mib": round(size / 2**20, 1),
            "read_workers": getattr(zone, "read_workers", 1)}  # fmt: skip


def _timed_zone(label: str, build: Callable[[], Any], count: int) -> dict[str, Any]:
    out = Path(tempfile.mkdtemp(prefix="bench-runs-out-"))
    try:
        return {"zone": label, **runs_step(build(), count, out)}
    finally:
        shutil.rmtree(out, ignore_errors=True)


def bench_local(count: int, landing: str | None = None) -> dict[str, Any]:
    """``landing``: a directory kept between runs (landed into once), to measure two
    checkouts on the same events; default a temporary one."""
    from extend_assets.webhooks.stores import DirectoryLandingZone

    root = Path(landing) if landing else Path(tempfile.mkdtemp(prefix="bench-landing-"))
    try:
        started = time.perf_counter()
        if not (root / "landed").exists():
            land_in_directory(root, count)
            (root / "landed").write_text(str(count))
        elif (root / "landed").read_text() != str(count):
            raise RuntimeError(f"{root} holds another number of events; remove it")
        landed = time.perf_counter() - started
        result = _timed_zone("directory", lambda: DirectoryLandingZone(root), count)
        return {**result, "setup_seconds_not_counted": round(landed, 1)}
    finally:
        if not landing:
            shutil.rmtree(root, ignore_errors=True)


def bench_s3(count: int) -> dict[str, Any]:
    from bench.pipeline_bench import servers
    from extend_assets.webhooks.stores import S3LandingZone

    with servers() as srv:
        client = srv.s3_client()
        client.create_bucket(Bucket="landing")
        started = time.perf_counter()
        land_in_s3(client, "landing", count)
        landed = time.perf_counter() - started
        result = _timed_zone(
            "s3 (moto)", lambda: S3LandingZone("landing", "hooks", client=client), count
        )
    return {**result, "setup_seconds_not_counted": round(landed, 1)}


def run(documents: int, s3_documents: int, landing: str | None = None) -> dict[str, Any]:
    found = [bench_local(documents, landing)]
    if s3_documents:
        found.append(bench_s3(s3_documents))
    import extend_assets

    return {"code": str(Path(extend_assets.__file__).resolve().parent.parent), "rows": found}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--documents", type=int, default=10000)
    parser.add_argument("--s3-documents", type=int, default=0, help="0: no S3 zone")
    parser.add_argument("--landing", default=None,
                        help="a local landing directory to keep and reuse (built once)")  # fmt: skip
    args = parser.parse_args()
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    print(json.dumps(run(args.documents, args.s3_documents, args.landing)))


if __name__ == "__main__":
    main()
