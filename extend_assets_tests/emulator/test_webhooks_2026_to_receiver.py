"""A 2026-pinned emulator endpoint delivers to the real receiver (``extend-assets
webhooks --api-version 2026-02-09``): 2026 payloads, signed data URLs the receiver
fetches from the emulator, and the ``workflow_run.cancelled`` event all land."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from extend_assets.client import ExtendClient
from extend_assets.emulator import SAMPLE_WORKFLOW_ID, EmulatorServer
from extend_assets.emulator.config import WebhookDelivery
from extend_assets.webhooks.stores import open_landing_zone
from extend_assets_tests.webhooks.conftest import (  # noqa: F401 (a fixture)
    SECRET,
    Receiver,
    landed_files,
    make_receiver,
    wait_for,
)

FAST = WebhookDelivery(initial_delay=0.05, multiplier=2.0, max_delay=0.4, timeout=5.0)


def test_2026_events_and_signed_data_urls_land_in_the_receiver(
    make_receiver: Callable[..., Receiver],  # noqa: F811
) -> None:
    receiver = make_receiver(
        api_version="2026-02-09", extra_args=("--allow-http-data-urls",)
    ).start()
    with (
        EmulatorServer(
            port=0,
            webhook_url=receiver.url,
            webhook_secret=SECRET,
            webhook_delivery=FAST,
            webhook_api_version="2026-02-09",
            webhook_url_threshold_bytes=2000,  # processed runs are larger: signed data URLs
        ) as emu,
        ExtendClient(emu.api_key, base_url=emu.base_url, api_version="2026-02-09") as client,
    ):
        batch_id = client.batch_run_workflow(
            SAMPLE_WORKFLOW_ID, [{"rawText": f"Invoice Number: R-{i}\n"} for i in range(4)]
        )
        assert emu.wait_idle(120)
        emu.set_throughput(runs_per_minute=0)
        (pending,) = client.run_workflow(SAMPLE_WORKFLOW_ID, raw_texts=["x"])
        client.cancel_workflow_run(pending.id)
        assert emu.wait_idle(120)
        assert emu.webhooks is not None and emu.webhooks.wait_idle(120)
        assert wait_for(lambda: len(landed_files(Path(receiver.landing))) >= 5)
    zone = open_landing_zone(receiver.landing)
    batch = zone.events_for_batches([batch_id])
    assert len(batch) == 4 and {e.run_status for e in batch} == {"PROCESSED"}
    assert {e.delivered_as for e in batch} == {"signed_data_url"}
    assert all(e.api_version == "2026-02-09" and "stepRuns" in e.payload for e in batch)
    cancelled = zone.events_for_runs([pending.id])
    assert [(e.event_type, e.run_status) for e in cancelled] == [
        ("workflow_run.cancelled", "CANCELLED")
    ]
