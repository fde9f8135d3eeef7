"""A tiny code location shaped like the real one: a ledger asset and an outputs job."""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from dagster import (
    AssetExecutionContext,
    AssetKey,
    BackfillPolicy,
    DagsterInstance,
    DailyPartitionsDefinition,
    Definitions,
    MetadataValue,
    Output,
    asset,
    define_asset_job,
    materialize,
)
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

from extend_assets.sensor_builder import build_extend_run_status_sensor

PDEF = DailyPartitionsDefinition(start_date="2025-01-01", end_date="2025-02-01")
BATCHES = AssetKey(["t", "extend_workflow_batches"])
RUNS = AssetKey(["t", "extend_workflow_runs"])


class LedgerInput:
    """What the next materialization of the batches asset will record."""

    batch_ids: Sequence[str] = ()
    run_ids: Sequence[str] = ()
    documents: int = 0
    submitted_at: float = 0.0


@asset(key=BATCHES, partitions_def=PDEF, backfill_policy=BackfillPolicy.single_run())
def batches(context: AssetExecutionContext) -> Output[None]:
    partitions = list(context.partition_keys)
    return Output(
        None,
        metadata={
            "extend/batch_ids": MetadataValue.json(list(LedgerInput.batch_ids)),
            "extend/run_ids": MetadataValue.json(list(LedgerInput.run_ids)),
            "extend/partitions": MetadataValue.json(partitions),
            "extend/documents_submitted": LedgerInput.documents,
            "extend/submitted_at": LedgerInput.submitted_at,
        },
    )


@asset(key=RUNS, partitions_def=PDEF, deps=[BATCHES], backfill_policy=BackfillPolicy.single_run())
def runs(context: AssetExecutionContext) -> Output[None]:
    return Output(None, metadata={"partitions": MetadataValue.json(list(context.partition_keys))})


outputs_job = define_asset_job("t_outputs", selection=[RUNS])


def make_defs(clock: Any, **kwargs: Any) -> Definitions:
    sensor = build_extend_run_status_sensor(
        name="t_sensor",
        workflow_id=kwargs.pop("workflow_id", "wf"),
        batches_asset_key=BATCHES,
        target=outputs_job,
        clock=clock,
        **kwargs,
    )
    return Definitions(assets=[batches, runs], jobs=[outputs_job], sensors=[sensor])


def submit(
    instance: DagsterInstance,
    partitions: Sequence[str],
    batch_ids: Sequence[str],
    documents: int,
    submitted_at: float,
    run_ids: Sequence[str] = (),
) -> None:
    """Materialize the ledger asset for ``partitions`` in one run (like a single-run backfill)."""
    LedgerInput.batch_ids = batch_ids
    LedgerInput.run_ids = run_ids
    LedgerInput.documents = documents
    LedgerInput.submitted_at = submitted_at
    tags = {
        ASSET_PARTITION_RANGE_START_TAG: partitions[0],
        ASSET_PARTITION_RANGE_END_TAG: partitions[-1],
    }
    if len(partitions) == 1:
        result = materialize([batches], instance=instance, partition_key=partitions[0])
    else:
        result = materialize([batches], instance=instance, tags=tags)
    assert result.success


class ClientResource:
    """Stands in for ExtendResource in sensor tests: hands out a given client."""

    def __init__(self, client: Any) -> None:
        self.client = client

    @contextmanager
    def _session(self) -> Iterator[Any]:
        yield self.client

    def get_client(self) -> Any:
        return self._session()
