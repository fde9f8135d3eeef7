"""Where ExtendResource's clients share their request schedule: the instance's PostgreSQL
when it stores there, unless a setting says otherwise (option, then environment)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from dagster import DagsterInstance, build_resources

from extend_assets.client.pg_schedule import PostgresSchedule
from extend_assets.client.shared_bucket import FileTokenBucket
from extend_assets.resources import ExtendResource
from extend_assets_tests.deployment.postgres import postgres_instance_yaml, postgres_or_skip

BASE = "http://127.0.0.1:9"


@pytest.fixture(scope="module")
def pg_instance(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DagsterInstance]:
    with postgres_or_skip() as server:
        home = tmp_path_factory.mktemp("pg_home")
        (home / "dagster.yaml").write_text(postgres_instance_yaml(server))
        instance = DagsterInstance.from_config(str(home))
        try:
            yield instance
        finally:
            instance.dispose()


@pytest.fixture(autouse=True)
def no_rate_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EXTEND_RATE_LIMIT_STORE", raising=False)
    monkeypatch.delenv("EXTEND_RATE_LIMIT_DIR", raising=False)


def schedule_of(resource: ExtendResource, instance: DagsterInstance | None) -> object:
    with (
        build_resources({"extend": resource}, instance=instance) as resources,
        resources.extend.get_client() as client,
    ):
        return client._transport.shared_schedule


def test_an_instance_on_postgres_shares_the_schedule_there(pg_instance: DagsterInstance) -> None:
    shared = schedule_of(ExtendResource(api_key="k", base_url=BASE), pg_instance)
    assert isinstance(shared, PostgresSchedule)
    assert shared.location.startswith("127.0.0.1:")
    assert shared.reserve() is not None and not shared.warned  # the instance's URL connects
    shared.close()


def test_explicit_settings_win_over_the_instance(
    pg_instance: DagsterInstance, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    resource = ExtendResource(api_key="k", base_url=BASE, rate_limit_store=str(tmp_path))
    assert isinstance(schedule_of(resource, pg_instance), FileTokenBucket)
    older = ExtendResource(api_key="k", base_url=BASE, rate_limit_dir=str(tmp_path))
    assert isinstance(schedule_of(older, pg_instance), FileTokenBucket)
    plain = ExtendResource(api_key="k", base_url=BASE)
    monkeypatch.setenv("EXTEND_RATE_LIMIT_DIR", str(tmp_path))
    assert isinstance(schedule_of(plain, pg_instance), FileTokenBucket)
    monkeypatch.setenv("EXTEND_RATE_LIMIT_STORE", "none")
    assert schedule_of(plain, pg_instance) is None


def test_an_explicit_postgres_url_serves_an_instance_that_does_not_store_there(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    plain = ExtendResource(api_key="k", base_url=BASE)
    with DagsterInstance.ephemeral() as instance:
        assert schedule_of(plain, instance) is None  # each process adapts alone
        monkeypatch.setenv("EXTEND_RATE_LIMIT_STORE", "postgresql://u:pw@db.internal:5432/rates")
        shared = schedule_of(plain, instance)
    assert isinstance(shared, PostgresSchedule)
    assert shared.location == "db.internal:5432/rates"  # no user, no password


def test_a_resource_made_by_hand_paces_alone() -> None:
    with ExtendResource(api_key="k", base_url=BASE).get_client() as client:
        assert client._transport.shared_schedule is None


def test_an_instance_on_sqlite_shares_the_schedule_beside_its_files(tmp_path: Path) -> None:
    """Run workers and the daemon of one machine share the limit with no setting."""
    from dagster import instance_for_test

    with instance_for_test(temp_dir=str(tmp_path)) as instance:
        shared = schedule_of(ExtendResource(api_key="k", base_url=BASE), instance)
    assert isinstance(shared, FileTokenBucket)
    assert Path(shared.location).parent == tmp_path / "extend_assets_rate_limit"
    shared.close()
