"""A full listing returns every matching run exactly once, even while runs change."""

from __future__ import annotations

from collections import Counter
from typing import Any

from extend_assets.client import ExtendClient
from extend_assets.outputs.fetch import run_ids_of_batches

WORKFLOW = "workflow_sampleInvoices0000000"


def a_batch(client: ExtendClient, count: int) -> str:
    inputs = [
        {"rawText": f"Invoice Number: L-{i}\n", "metadata": {"key": f"doc-{i}"}}
        for i in range(count)
    ]
    return client.batch_run_workflow(WORKFLOW, inputs)


def listed_while_changing(client: ExtendClient, ids: list[str], listing: Any) -> Counter[str]:
    """Iterate ``listing``; at each page boundary, update runs not listed yet (their
    updatedAt moves, as it does while Extend processes a batch)."""
    seen: Counter[str] = Counter()
    for number, summary in enumerate(listing, start=1):
        seen[summary.id] += 1
        if number % 20 == 0:
            unseen = [run_id for run_id in ids if run_id not in seen][:5]
            for run_id in unseen:
                client.update_workflow_run(run_id, metadata={"touched": number})
    return seen


def test_listing_a_batch_while_its_runs_change_returns_each_run_once(extend_emulator: Any) -> None:
    extend_emulator.set_throughput(runs_per_minute=0)  # only our updates change runs
    with ExtendClient(
        api_key=extend_emulator.api_key, base_url=extend_emulator.base_url, requests_per_second=500
    ) as client:
        batch_id = a_batch(client, 200)
        ids = [r.id for r in client.list_workflow_runs(batch_id=batch_id, page_size=1000)]
        assert len(ids) == 200
        seen = listed_while_changing(
            client, ids, client.list_workflow_runs(batch_id=batch_id, page_size=20)
        )
        assert seen == Counter(ids)

        # The outputs' fetch lists the same way.
        other = a_batch(client, 60)
        other_ids = [r.id for r in client.list_workflow_runs(batch_id=other, page_size=1000)]
        listed = run_ids_of_batches(client, [batch_id, other])
        assert Counter(listed) == Counter(ids + other_ids)
