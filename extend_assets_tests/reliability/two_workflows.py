"""Two workflows (invoices, receipts) in one code location, for the randomized test.

The emulator gets both from a config file; the definitions read the stack from the
environment, so the same module serves run processes and the test itself.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml
from dagster import Definitions, EnvVar

from extend_assets.assets import build_extend_workflow_assets
from extend_assets.emulator.config import SAMPLE_CONFIG
from extend_assets.io_manager import ExtendDuckDBIOManager
from extend_assets.resources import ExtendResource, S3DocumentSource

WORKFLOWS = {
    "invoices": "workflow_sampleInvoices0000000",
    "receipts": "workflow_sampleReceipts0000000",
}
RECEIPTS: dict[str, Any] = {
    "id": WORKFLOWS["receipts"],
    "name": "Receipts",
    "versions": ["1"],
    "steps": [
        {
            "type": "EXTRACT",
            "name": "Receipt fields",
            "schema": {
                "type": "object",
                "properties": {
                    "merchant": {"type": "string", "title": "Merchant"},
                    "total": {"type": "number", "title": "Total"},
                },
            },
        }
    ],
}
BODIES = {
    "invoices": "Invoice Number: INV-{n}\nVendor Name: Acme\nTotal: 12.50 USD\n",
    "receipts": "Merchant: Corner Cafe {n}\nTotal: 7.50\n",
}


def emulator_config(path: Path) -> Path:
    """The sample workflow plus a receipts workflow, as an emulator config file."""
    config = yaml.safe_load(SAMPLE_CONFIG.read_text())
    config["workflows"].append(RECEIPTS)
    path.write_text(yaml.safe_dump(config))
    return path


def build_defs() -> Definitions:
    """Both workflows over ``$EXTEND_S3_BUCKET``, prefixes ``<name>/{date}/``."""
    assets: list[Any] = []
    jobs: list[Any] = []
    sensors: list[Any] = []
    for name, workflow_id in WORKFLOWS.items():
        built = build_extend_workflow_assets(
            name=name,
            workflow_id=workflow_id,
            bucket=os.environ["EXTEND_S3_BUCKET"],
            prefix_template=f"{name}/{{date}}/",
            start_date="2025-01-01",
            review_policy="settle",
            sensor_interval_seconds=1,
        )
        assets.extend(built.assets)
        jobs.extend(built.jobs)
        sensors.extend(built.sensors)
    return Definitions(
        assets=assets,
        jobs=jobs,
        sensors=sensors,
        resources={
            "extend": ExtendResource(
                api_key=EnvVar("EXTEND_API_KEY"),
                base_url=os.environ["EXTEND_BASE_URL"],
                requests_per_second=200,
            ),
            "documents": S3DocumentSource(addressing_style="path"),
            "io_manager": ExtendDuckDBIOManager(database=os.environ["EXTEND_DUCKDB_PATH"]),
        },
    )


def widen_the_ledger_read_window(seconds: float) -> None:
    """Test-only: pause after every ledger read, the window in which a concurrent
    submission's intent once slipped between two reads (and was sent twice)."""
    import time

    from extend_assets.event_log import EventLogLedger

    read = EventLogLedger.read

    def slow_read(self: EventLogLedger, partitions: Any) -> Any:
        ledgers = read(self, partitions)
        time.sleep(seconds)
        return ledgers

    EventLogLedger.read = slow_read  # type: ignore[method-assign]


if os.environ.get("EXTEND_TEST_LEDGER_READ_PAUSE"):
    widen_the_ledger_read_window(float(os.environ["EXTEND_TEST_LEDGER_READ_PAUSE"]))

defs = build_defs() if os.environ.get("EXTEND_S3_BUCKET") else None
