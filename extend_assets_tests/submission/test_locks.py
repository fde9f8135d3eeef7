"""The submission lock on both backends: exclusion, a global order, a bounded wait, and
a fence that notices a lost lock (PostgreSQL: the holder's connection killed)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from extend_assets.submission.locks import (
    FileLocks,
    LockLostError,
    LockTimeoutError,
    PartitionLocks,
    PostgresAdvisoryLocks,
    lock_names,
)
from extend_assets_tests.deployment.postgres import PostgresServer, find_bindir


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    bindir = find_bindir()
    if bindir is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is not installed; .ci/run installs Debian's `postgresql`.")
        pytest.skip("PostgreSQL binaries not found (apt-get install postgresql)")
    with PostgresServer(bindir) as server:
        yield server


@pytest.fixture(params=["files", "postgres"])
def make_locks(request: pytest.FixtureRequest, tmp_path: Path) -> object:
    if request.param == "files":
        return lambda timeout: FileLocks(tmp_path / "locks", timeout)
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
