"""The shared request schedule on PostgreSQL (a real, throwaway server): slots spaced
``1 / rate`` apart across connections, threads and processes; a dropped connection
reconnected; an unreachable server stepped around with one warning. Counts and slots,
never wall-clock times."""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Iterator

import psycopg2
import pytest
import responses

from extend_assets.client import ExtendClient
from extend_assets.client.pg_schedule import TABLE, PostgresSchedule
from extend_assets.client.shared_bucket import FileTokenBucket, account_digest
from extend_assets_tests.client.payloads import BASE, KEY, run_json
from extend_assets_tests.client.test_many_processes import GETS, PROCESSES, run_processes
from extend_assets_tests.deployment.postgres import PostgresServer, postgres_or_skip
from extend_assets_tests.ports import free_port

SLOW = 0.01
"""Slots 100 s apart: no queue drains during a test, so every slot follows the last."""


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    with postgres_or_skip() as server:
        yield server


def slots(schedule: PostgresSchedule, n: int) -> list[float]:
    taken = []
    for _ in range(n):
        reserved = schedule.reserve_slot()
        assert reserved is not None
        taken.append(reserved[1])
    return taken


def test_slots_follow_each_other_one_interval_apart(postgres: PostgresServer) -> None:
    first = PostgresSchedule(postgres.url, "acct-spacing", SLOW)
    second = PostgresSchedule(postgres.url, "acct-spacing", SLOW)  # another connection
    taken = slots(first, 3) + slots(second, 3) + slots(first, 2)
    gaps = [b - a for a, b in itertools.pairwise(taken)]
    assert gaps == pytest.approx([1 / SLOW] * 7)
    waits = [w for w in (first.reserve(), second.reserve()) if w is not None]
    assert len(waits) == 2 and waits[1] > waits[0] > 0  # the queue is ahead of now
    other = PostgresSchedule(postgres.url, "acct-other", SLOW)
    own = other.reserve_slot()
    assert own is not None and own[1] < taken[1]  # another account has its own schedule
    for schedule in (first, second, other):
        schedule.close()


def test_concurrent_reservers_get_distinct_slots(postgres: PostgresServer) -> None:
    # 80 slots 20 s apart: the queue stays within the schedule's 1 h staleness bound.
    threads_n, each, rate = 8, 5, 0.05
    schedules = [PostgresSchedule(postgres.url, "acct-threads", rate) for _ in range(threads_n)]
    shared = PostgresSchedule(postgres.url, "acct-threads", rate)  # threads of one client
    barrier = threading.Barrier(threads_n * 2)
    taken: list[float] = []
    lock = threading.Lock()

    def reserve(schedule: PostgresSchedule) -> None:
        barrier.wait(timeout=60)
        mine = slots(schedule, each)
        with lock:
            taken.extend(mine)

    threads = [threading.Thread(target=reserve, args=(s,)) for s in schedules]
    threads += [threading.Thread(target=reserve, args=(shared,)) for _ in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert len(taken) == threads_n * 2 * each
    ordered = sorted(taken)
    gaps = [b - a for a, b in itertools.pairwise(ordered)]
    assert gaps == pytest.approx([1 / rate] * (len(ordered) - 1))
    for schedule in [*schedules, shared]:
        schedule.close()


def test_the_row_is_named_by_a_digest_never_the_key(postgres: PostgresServer) -> None:
    account = account_digest(BASE, None, KEY)
    schedule = PostgresSchedule(postgres.url, account, 10.0)
    assert schedule.reserve() is not None
    with psycopg2.connect(postgres.url) as connection, connection.cursor() as cursor:
        cursor.execute(f"select account_hash from {TABLE}")
        names = [row[0] for row in cursor.fetchall()]
    connection.close()
    assert account in names and all(KEY not in n for n in names)
    schedule.close()


def test_a_dropped_connection_is_reopened_without_a_warning(
    postgres: PostgresServer, caplog: pytest.LogCaptureFixture
) -> None:
    schedule = PostgresSchedule(postgres.url, "acct-drop", 10.0)
    assert schedule.reserve() is not None
    with psycopg2.connect(postgres.url) as admin, admin.cursor() as cursor:
        cursor.execute(
            "select pg_terminate_backend(pid) from pg_stat_activity "
            "where application_name = 'extend_assets rate schedule'"
        )
        assert cursor.rowcount >= 1
    admin.close()
    with caplog.at_level(logging.WARNING, logger="extend_assets.client"):
        assert schedule.reserve() is not None
    assert not caplog.records and not schedule.warned
    schedule.close()


def test_an_unreachable_server_leaves_the_adaptive_limiter_with_one_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    url = f"postgresql://dagster:pw-do-not-log@127.0.0.1:{free_port()}/dagster"
    clock = [0.0]
    schedule = PostgresSchedule(url, "acct", 10.0, clock=lambda: clock[0])
    with caplog.at_level(logging.WARNING, logger="extend_assets.client"):
        assert schedule.reserve() is None
        assert schedule.acquire() == 0.0  # within the retry pause: not even a connect
        clock[0] += 3600
        assert schedule.reserve() is None  # tried again, still down: no second warning
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "adaptive rate limiter alone" in caplog.text and "127.0.0.1" in caplog.text
    assert "pw-do-not-log" not in caplog.text


@responses.activate
def test_a_client_whose_store_is_down_still_succeeds(caplog: pytest.LogCaptureFixture) -> None:
    url = f"{BASE}/workflow_runs/workflow_run_r"
    responses.get(url, json={"success": True, "workflowRun": run_json("workflow_run_r")})
    store = f"postgresql://dagster:pw-do-not-log@127.0.0.1:{free_port()}/dagster"
    with (
        caplog.at_level(logging.WARNING, logger="extend_assets.client"),
        ExtendClient(KEY, base_url=BASE, requests_per_second=100, rate_limit_store=store) as c,
    ):
        for _ in range(3):
            assert c.get_workflow_run("workflow_run_r").id == "workflow_run_r"
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 1
    assert "pw-do-not-log" not in caplog.text and KEY not in caplog.text


def test_the_store_value_picks_the_schedule(tmp_path: object) -> None:
    def shared(store: str | None) -> object:
        with ExtendClient(KEY, base_url=BASE, rate_limit_store=store) as client:
            return client._transport.shared_schedule

    assert isinstance(shared("postgresql://u@127.0.0.1:1/db"), PostgresSchedule)
    assert isinstance(shared("postgresql+psycopg2://u@127.0.0.1:1/db"), PostgresSchedule)
    assert isinstance(shared(str(tmp_path)), FileTokenBucket)
    assert shared("none") is None and shared(None) is None
    with pytest.raises(ValueError, match="rate_limit_store") as raised:
        shared("redis://user:secret@host/0")
    assert "secret" not in str(raised.value)


def test_processes_on_separate_disks_share_one_schedule_in_postgres(
    postgres: PostgresServer,
) -> None:
    """Each child has no directory in common with the others: only the database."""
    reports, counters = run_processes(postgres.url)
    assert [r["failed"] for r in reports] == [0] * PROCESSES
    gets = sum(v for k, v in counters.items() if k.startswith("GET "))
    assert gets == sum(r["requests"] for r in reports)
    assert gets - counters.get("429", 0) == PROCESSES * GETS
    assert counters.get("429", 0) <= max(2, gets // 20)  # ≤ 5%: the schedule spaces them
