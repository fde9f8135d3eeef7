"""The submission lock on both backends: exclusion, a global order, a bounded wait, and
a fence that notices a lost lock (PostgreSQL: the holder's connection killed)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from extend_assets.submission.locks import (
    LEASE_SECONDS,
    FileLocks,
    LockLostError,
    LockTimeoutError,
    PartitionLocks,
    PostgresAdvisoryLocks,
    S3LeaseLocks,
    lock_names,
)
from extend_assets_tests.deployment.postgres import PostgresServer, postgres_or_skip


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    with postgres_or_skip() as server:
        yield server


@pytest.fixture(params=["files", "postgres", "s3"])
def make_locks(request: pytest.FixtureRequest, tmp_path: Path) -> object:
    if request.param == "files":
        return lambda timeout: FileLocks(tmp_path / "locks", timeout)
    if request.param == "s3":
        client = request.getfixturevalue("s3_client")
        bucket = request.getfixturevalue("bucket")
        return lambda timeout: S3LeaseLocks(client, bucket, "locks/", timeout)
    server = request.getfixturevalue("postgres")
    return lambda timeout: PostgresAdvisoryLocks(server.url, timeout)


def test_overlapping_partitions_exclude_each_other_and_disjoint_ones_do_not(
    make_locks: object,
) -> None:
    first: PartitionLocks = make_locks(60.0)  # type: ignore[operator]
    impatient: PartitionLocks = make_locks(0.0)  # type: ignore[operator]
    said: list[str] = []
    with first.hold(lock_names("wf", ["2025-01-01", "2025-01-02"]), said.append):
        with (
            pytest.raises(LockTimeoutError, match="another submission of the same partitions"),
            impatient.hold(lock_names("wf", ["2025-01-02", "2025-01-03"]), said.append),
        ):
            pass
        with impatient.hold(lock_names("wf", ["2025-01-03"]), said.append) as held:
            held.check()  # disjoint partitions go on at once
        with impatient.hold(lock_names("other_wf", ["2025-01-01"]), said.append) as held:
            held.check()  # so does another workflow's same day
    with impatient.hold(lock_names("wf", ["2025-01-02", "2025-01-03"]), said.append) as held:
        held.check()  # released with the first holder


def test_a_holder_whose_connection_is_killed_fails_its_fence(postgres: PostgresServer) -> None:
    locks = PostgresAdvisoryLocks(postgres.url, 60.0)
    with locks.hold(lock_names("wf", ["2025-01-01"]), print) as held:
        held.check()
        engine = sa.create_engine(postgres.url.replace("postgresql:", "postgresql+psycopg2:"))
        with engine.connect() as admin:
            admin.execute(
                sa.text(
                    "select pg_terminate_backend(pid) from pg_locks "
                    "where locktype = 'advisory' and pid <> pg_backend_pid()"
                )
            )
        engine.dispose()
        with pytest.raises(LockLostError, match="lost the connection"):
            held.check()
    # The server released the dead session's lock: the next holder goes on at once.
    with PostgresAdvisoryLocks(postgres.url, 0.0).hold(lock_names("wf", ["2025-01-01"]), print):
        pass


def test_the_instance_picks_advisory_locks_on_postgres_and_files_on_sqlite(
    postgres: PostgresServer, tmp_path: Path
) -> None:
    from dagster import DagsterInstance, instance_for_test

    from extend_assets.instance_store import submission_locks
    from extend_assets_tests.deployment.postgres import postgres_instance_yaml

    (tmp_path / "sqlite").mkdir()
    with instance_for_test(temp_dir=str(tmp_path / "sqlite")) as sqlite_instance:
        assert isinstance(submission_locks(sqlite_instance), FileLocks)
    home = tmp_path / "pg"
    home.mkdir()
    (home / "dagster.yaml").write_text(postgres_instance_yaml(postgres))
    with DagsterInstance.from_config(str(home)) as pg_instance:
        assert isinstance(submission_locks(pg_instance), PostgresAdvisoryLocks)


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_an_expired_s3_lease_is_taken_over_and_its_old_holder_fails_its_fence(
    s3_client: Any, bucket: str
) -> None:
    clock = Clock()
    dead = S3LeaseLocks(s3_client, bucket, "locks", 0.0, owner="run_dead", clock=clock)
    alive = S3LeaseLocks(s3_client, bucket, "locks", 0.0, owner="run_alive", clock=clock)
    names = lock_names("wf", ["2025-01-01"])
    with dead.hold(names, print) as dead_held:
        dead_held.check()
        with pytest.raises(LockTimeoutError), alive.hold(names, print):
            pass  # a live lease is respected
        clock.now += LEASE_SECONDS + 1  # the holder stopped renewing (it is frozen or dead)
        with pytest.raises(LockLostError):
            dead_held.check()  # its own fence knows the lease ran out: it never POSTs
        with alive.hold(names, print) as alive_held:
            alive_held.check()
            key = next(iter(alive_held.etags))  # type: ignore[attr-defined]
            owner = s3_client.get_object(Bucket=bucket, Key=key)["Body"].read()
            assert b"run_alive" in owner
    assert s3_client.list_objects_v2(Bucket=bucket, Prefix="locks/").get("KeyCount", 0) == 0
