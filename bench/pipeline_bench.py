"""Benchmarks of the pipeline against the local stack: submission, output fetch, end to end.

The S3 server and the emulator run in a separate process (``bench.servers``), so the
CPU time and peak memory measured here are the pipeline's own. Each measurement runs
in a fresh process so that peak RSS belongs to it alone. Nothing is asserted.

    .venv/bin/python -m bench.pipeline_bench submission --documents 10000
    .venv/bin/python -m bench.pipeline_bench fetch --documents 2000 --rate 50
    .venv/bin/python -m bench.pipeline_bench e2e --documents 300
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from bench.memory import peak_rss_mib

DAY = "2025-01-15"
WORKFLOW = "workflow_sampleInvoices0000000"


@dataclass
class Servers:
    s3_url: str
    emulator_url: str
    api_key: str = "emulator-dev-key"
    region: str = "us-east-1"

    # The two shapes the test harness expects (``emulator.base_url``, ``s3.env()``).
    @property
    def base_url(self) -> str:
        return self.emulator_url

    @property
    def endpoint_url(self) -> str:
        return self.s3_url

    def env(self) -> dict[str, str]:
        return {
            "AWS_ENDPOINT_URL": self.s3_url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": self.region,
        }

    def control(self, path: str, body: dict[str, Any] | None = None) -> Any:
        url = f"{self.emulator_url}/_emulator/{path}"
        answer = (
            requests.post(url, json=body or {}, timeout=30)
            if body is not None
            else requests.get(url, timeout=30)
        )
        return answer.json()

    def s3_client(self) -> Any:
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3", endpoint_url=self.s3_url, region_name=self.region, aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(signature_version="s3v4", s3={"addressing_style": "path"}, max_pool_connections=32),
        )  # fmt: skip


@contextmanager
def servers(**emulator: Any) -> Iterator[Servers]:
    """Start ``bench.servers`` in another process; yield its addresses."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.servers", json.dumps(emulator)],
        stdout=subprocess.PIPE,
        stdin=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        info = json.loads(line)
        yield Servers(info["s3"], info["emulator"])
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def upload(srv: Servers, bucket: str, count: int) -> float:
    from concurrent.futures import ThreadPoolExecutor

    client = srv.s3_client()
    client.create_bucket(Bucket=bucket)
    started = time.perf_counter()
    body = b"INVOICE\nInvoice Number: B-1\nTotal: 10.00 USD\n"
    with ThreadPoolExecutor(max_workers=16) as pool:
        list(
            pool.map(
                lambda i: client.put_object(
                    Bucket=bucket, Key=f"d/{DAY}/doc-{i:07d}.txt", Body=body
                ),
                range(count),
            )
        )
    return time.perf_counter() - started


def bench_submission(documents: int) -> dict[str, Any]:
    from dagster import DagsterInstance

    from extend_assets_tests.assets.harness import build, runner

    with servers(runs_per_minute=0) as srv, tempfile.TemporaryDirectory() as tmp:
        upload_seconds = upload(srv, "bench-submit", documents)
        defs, _ = build(
            srv,
            srv,
            Path(tmp) / "tables.duckdb",
            bucket="bench-submit",
            prefix_template="d/{date}/",
        )
        rss_before = peak_rss_mib()
        with DagsterInstance.ephemeral() as instance:
            pipeline = runner(defs, instance)
            cpu, wall = time.process_time(), time.perf_counter()
            pipeline.submit([DAY])
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        counters = srv.control("counters")
    posts = int(counters.get("POST /workflow_runs/batch", 0))
    return {
        "documents": documents,
        "seconds": round(wall, 2),
        "documents_per_second": round(documents / wall),
        "cpu_ms_per_document": round(cpu * 1000 / documents, 3),
        "batch_posts": posts,
        "minimum_posts": math.ceil(documents / 1000),
        "peak_rss_mib": peak_rss_mib(),
        "rss_before_run_mib": rss_before,
        "upload_seconds_not_counted": round(upload_seconds, 1),
    }


def bench_fetch(documents: int, rate: float, latency: float = 0.02) -> dict[str, Any]:
    from extend_assets.client import ExtendClient
    from extend_assets.outputs.fetch import fetch_runs

    with servers(requests_per_second=rate) as srv:
        with ExtendClient(
            "emulator-dev-key", base_url=srv.emulator_url, requests_per_second=rate
        ) as client:
            ids: list[str] = []
            for start in range(0, documents, 1000):
                size = min(1000, documents - start)
                batch = client.batch_run_workflow(
                    WORKFLOW, [{"rawText": f"Invoice Number: F-{i}\n"} for i in range(size)]
                )
                ids += [s.id for s in client.list_workflow_runs(batch_id=batch, page_size=1000)]
            deadline = time.monotonic() + 300
            while not srv.control("idle")["idle"] and time.monotonic() < deadline:
                time.sleep(0.2)
            srv.control("reset", {})
            srv.control("faults", {"slow_seconds": latency})
            time.sleep(1.1)  # let the server's bucket refill after the set-up calls
            before = client.request_count
            started = time.perf_counter()
            runs = fetch_runs(client, ids, max_workers=16)
            wall = time.perf_counter() - started
            sent = client.request_count - before
        counters = srv.control("counters")
    return {
        "documents": documents,
        "configured_rate": rate,
        "emulator_latency_ms": latency * 1000,
        "achieved_rate": round(len(runs) / wall, 1),
        "share_of_limit": round(len(runs) / wall / rate, 3),
        "requests_sent": sent,
        "http_429": int(counters.get("429", 0)),
    }


def bench_e2e(documents: int) -> dict[str, Any]:
    from dagster import DagsterInstance

    from extend_assets.cli.runner import PipelineRunner
    from extend_assets.localstack import LocalStack
    from extend_assets_tests.assets.harness import build

    latency = 0.02
    with (
        LocalStack(documents=documents, days=3, seed=7, emulator_latency=latency) as stack,
        tempfile.TemporaryDirectory() as tmp,
    ):
        partitions = sorted({d.partition for d in stack.documents})
        defs, _ = build(stack.emulator, stack.s3, Path(tmp) / "tables.duckdb", bucket=stack.bucket,
                        prefix_template=stack.prefix + "{date}/", review_policy="settle")  # fmt: skip
        with DagsterInstance.ephemeral() as instance:
            pipeline = PipelineRunner(defs, instance, "t")
            started = time.perf_counter()
            pipeline.submit(partitions)
            submitted = time.perf_counter()
            pipeline.settle(partitions, pause_seconds=0.05)
            done = time.perf_counter()
            durations = {"submit": 0.0, "outputs": 0.0}
            for run in instance.get_runs():
                stats = instance.get_run_stats(run.run_id)
                if stats.start_time and stats.end_time:
                    kind = "submit" if run.job_name.endswith("_submit") else "outputs"
                    durations[kind] += stats.end_time - stats.start_time
        processed = [r for r in stack.emulator.runs() if r["startTime"] and r["endTime"]]
    total = done - started
    own = durations["submit"] + durations["outputs"]
    return {
        "documents": documents,
        "emulator_latency_s_per_run": latency,
        "emulator_workers": 4,
        "wall_seconds": round(total, 2),
        "submit_run_seconds": round(durations["submit"], 2),
        "wait_for_extend_seconds": round(done - submitted - durations["outputs"], 2),
        "outputs_runs_seconds": round(durations["outputs"], 2),
        "own_share": round(own / total, 3),
        "emulator_share": round(1 - own / total, 3),
        "runs_processed": len(processed),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("what", choices=["submission", "fetch", "e2e"])
    parser.add_argument("--documents", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=50.0)
    args = parser.parse_args()
    os.environ.setdefault("DAGSTER_HOME", tempfile.mkdtemp(prefix="bench-dagster-"))
    if args.what == "submission":
        result = bench_submission(args.documents)
    elif args.what == "fetch":
        result = bench_fetch(args.documents, args.rate)
    else:
        result = bench_e2e(args.documents)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
