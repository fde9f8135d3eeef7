"""The Dagster shell: ledger reading, run requests (ranged), observations, errors."""

from __future__ import annotations

from dagster import DagsterInstance, Definitions, build_sensor_context
from dagster._core.definitions.sensor_definition import SensorExecutionData
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

from extend_assets.sensing import PartitionRequest
from extend_assets.sensor_builder import to_run_requests
from extend_assets_tests.sensing.dagster_fixtures import (
    PDEF,
    RUNS,
    ClientResource,
    make_defs,
    submit,
)
from extend_assets_tests.sensing.fakes import FakeExtend


def evaluate(
    defs: Definitions, instance: DagsterInstance, fake: FakeExtend, cursor: str | None
) -> SensorExecutionData:
    sensor = defs.get_sensor_def("t_sensor")
    context = build_sensor_context(
        instance=instance,
        cursor=cursor,
        resources={"extend": ClientResource(fake)},
        definitions=defs,
    )
    return sensor.evaluate_tick(context)


def test_one_ranged_request_per_group_and_progress_observations() -> None:
    fake = FakeExtend()
    defs = make_defs(lambda: fake.now)
    with DagsterInstance.ephemeral() as instance:
        batch, run_ids = fake.add_batch(30, "2025-01-02")
        submit(instance, ["2025-01-02", "2025-01-03", "2025-01-04"], [batch], 30, fake.now)
        result = evaluate(defs, instance, fake, None)
        assert not result.run_requests
        observed = sorted(str(e.partition) for e in result.asset_events)
        assert observed == ["2025-01-02", "2025-01-03", "2025-01-04"]
        cursor = result.cursor
        fake.advance(10)
        fake.set_status(run_ids, "PROCESSED")
        result = evaluate(defs, instance, fake, cursor)
        (request,) = result.run_requests or []
        assert request.tags[ASSET_PARTITION_RANGE_START_TAG] == "2025-01-02"
        assert request.tags[ASSET_PARTITION_RANGE_END_TAG] == "2025-01-04"
        settled = [e for e in result.asset_events if e.metadata["extend/state"].value == "settled"]
        assert len(settled) == 3
        # the same tick again (a crash before the cursor was saved): the same run key
        again = evaluate(defs, instance, fake, cursor)
        assert [r.run_key for r in again.run_requests or []] == [request.run_key]
        # and the asset job accepts the ranged request as one run over the three days
        job = defs.resolve_job_def("t_outputs")
        run = job.execute_in_process(instance=instance, tags=request.tags)
        assert run.success
        records = instance.fetch_materializations(RUNS, limit=10).records
        keys = sorted(r.partition_key for r in records if r.partition_key)
        assert keys == ["2025-01-02", "2025-01-03", "2025-01-04"]
        after = evaluate(defs, instance, fake, result.cursor)
        assert not after.run_requests


def test_errors_skip_the_tick_and_keep_the_cursor() -> None:
    fake = FakeExtend()
    defs = make_defs(lambda: fake.now)
    with DagsterInstance.ephemeral() as instance:
        batch, _ = fake.add_batch(5, "2025-01-05")
        submit(instance, ["2025-01-05"], [batch], 5, fake.now)
        fake.fail_next = 1
        result = evaluate(defs, instance, fake, None)
        assert result.skip_message is not None and "503" in result.skip_message
        assert result.cursor and '"open":[{' in result.cursor  # the group is kept
        result = evaluate(defs, instance, fake, result.cursor)
        assert "did not answer" not in (result.skip_message or "")


def test_runs_submitted_nothing_are_ignored_and_old_cursors_start_over() -> None:
    fake = FakeExtend()
    defs = make_defs(lambda: fake.now)
    with DagsterInstance.ephemeral() as instance:
        submit(instance, ["2025-01-06"], [], 0, fake.now)
        result = evaluate(defs, instance, fake, '{"version": 0, "whatever": true}')
        assert not result.run_requests and fake.calls["list"] == 0
        assert '"open":[]' in (result.cursor or "")


def test_scattered_partitions_get_one_request_each() -> None:
    request = PartitionRequest(("2025-01-01", "2025-01-03"), "extend-settled-x", "why")
    runs = to_run_requests(request, PDEF)
    assert [r.partition_key for r in runs] == ["2025-01-01", "2025-01-03"]
    assert len({r.run_key for r in runs}) == 2
    assert len(to_run_requests(PartitionRequest(("2025-01-02", "2025-01-01"), "k", "w"), PDEF)) == 1


def test_runless_ledger_events_are_groups_of_their_own() -> None:
    from dagster import AssetMaterialization, MetadataValue

    from extend_assets.event_log import read_submitted_groups
    from extend_assets_tests.sensing.dagster_fixtures import BATCHES

    with DagsterInstance.ephemeral() as instance:
        for day, batch in (("2025-01-07", "batch_a"), ("2025-01-08", "batch_b")):
            instance.report_runless_asset_event(
                AssetMaterialization(
                    asset_key=BATCHES,
                    partition=day,
                    metadata={
                        "extend/batch_ids": MetadataValue.json([batch]),
                        "extend/run_ids": MetadataValue.json([]),
                        "extend/partitions": MetadataValue.json([day]),
                        "extend/documents_submitted": 7,
                        "extend/submitted_at": 1.5,
                        "extend/all_batch_ids": MetadataValue.json({day: ["old", batch]}),
                    },
                )
            )
        subs, last = read_submitted_groups(instance, BATCHES, None)
        assert [(s.partitions, s.batch_ids, s.expected) for s in subs] == [
            (("2025-01-07",), ("batch_a",), 7),
            (("2025-01-08",), ("batch_b",), 7),
        ]
        assert len({s.group_id for s in subs}) == 2
        assert subs[0].batch_partitions == {"batch_a": ["2025-01-07"]}
        assert read_submitted_groups(instance, BATCHES, last) == ([], last)
