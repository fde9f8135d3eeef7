"""Fetching the full runs of a partition: list each batch once, GET every run concurrently.

The client's rate limiter is shared by all threads, so the fetch runs as close to
the account's requests-per-second as the limiter allows and no faster.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor

from extend_assets.client import ExtendClient, WorkflowRun


def run_ids_of_batches(client: ExtendClient, batch_ids: Iterable[str]) -> list[str]:
    """Every run id of the given batches, each once: ceil(runs / 1000) list calls per batch.

    Sorted by the immutable ``createdAt``: runs of a batch still processing change
    ``updatedAt`` while the pages are read.
    """
    ids: list[str] = []
    seen: set[str] = set()
    for batch_id in batch_ids:
        for summary in client.list_workflow_runs(
            batch_id=batch_id, sort_by="createdAt", sort_dir="asc", page_size=1000
        ):
            if summary.id not in seen:
                seen.add(summary.id)
                ids.append(summary.id)
    return ids


def fetch_runs(
    client: ExtendClient,
    run_ids: Sequence[str],
    *,
    max_workers: int = 16,
    progress: Callable[[int, int], None] | None = None,
) -> list[WorkflowRun]:
    """GET every run, in the order given; ``progress(done, total)`` every 10%."""
    if not run_ids:
        return []
    total = len(run_ids)
    step = max(1, total // 10)
    runs: list[WorkflowRun] = []
    with ThreadPoolExecutor(max_workers=max(1, min(max_workers, total))) as pool:
        for done, run in enumerate(pool.map(client.get_workflow_run, run_ids), start=1):
            runs.append(run)
            if progress is not None and (done % step == 0 or done == total):
                progress(done, total)
    return runs
