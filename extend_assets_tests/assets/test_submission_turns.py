"""Overlapping submissions take turns: the interleavings that sent documents twice (or
left them behind) are forced here with events, not hoped for with sleeps.

Two in-process runs of the submit job share one SQLite instance and the real emulator.
Hooks pause a run inside its ledger read or right before its POST, and report when the
other run is waiting for the partition's lock.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from dagster import DagsterInstance, Definitions

from extend_assets.event_log import EventLogLedger
from extend_assets.submission import locks
from extend_assets.submission.submitter import Submitter
from extend_assets_tests.assets.harness import build, metadata_value, put_texts, runner

DAY = "2025-01-15"
BOUND = 180.0  # a hang guard on every wait, never a timing assertion


class Gate:
    """Lets the test stop one named run at a hook and let it go again (or crash it)."""

    def __init__(self) -> None:
        self.arrived = threading.Event()
        self.go = threading.Event()
        self.crash = False

    def stop_here(self) -> None:
        self.arrived.set()
        assert self.go.wait(BOUND), "the test never let this run go on"
        if self.crash:
            raise RuntimeError("worker lost")

    def wait_arrived(self, what: str) -> None:
        assert self.arrived.wait(BOUND), f"never reached: {what}"


class Hooks:
    """Per-thread gates at the ledger read and before the POST, and lock-wait signals."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.reads: dict[str, Gate] = {}
        self.posts: dict[str, Gate] = {}
        self.waiting: dict[str, threading.Event] = {}
        read, post, acquire = EventLogLedger.read, Submitter._post, locks._acquire_each
        hooks = self

        def paused_read(ledger: EventLogLedger, partitions: Any) -> Any:
            result = read(ledger, partitions)
            gate = hooks.reads.pop(threading.current_thread().name, None)
            if gate is not None:  # the window between reading the ledger and acting on it
                gate.stop_here()
            return result

        def paused_post(submitter: Submitter, chunk: Any, submission_id: str) -> Any:
            gate = hooks.posts.pop(threading.current_thread().name, None)
            if gate is not None:
                gate.stop_here()
            return post(submitter, chunk, submission_id)

        def reporting_acquire(keys: Any, try_one: Callable[[Any], bool], *a: Any, **k: Any) -> None:
            name = threading.current_thread().name

            def try_and_report(key: Any) -> bool:
                taken = try_one(key)
                if not taken and name in hooks.waiting:
                    hooks.waiting[name].set()
                return taken

            acquire(keys, try_and_report, *a, **k)

        monkeypatch.setattr(EventLogLedger, "read", paused_read)
        monkeypatch.setattr(Submitter, "_post", paused_post)
        monkeypatch.setattr(locks, "_acquire_each", reporting_acquire)

    def gate_read(self, run: str) -> Gate:
        self.reads[run] = Gate()
        return self.reads[run]

    def gate_post(self, run: str) -> Gate:
        self.posts[run] = Gate()
        return self.posts[run]

    def watch_wait(self, run: str) -> threading.Event:
        self.waiting[run] = threading.Event()
        return self.waiting[run]


class Run(threading.Thread):
    def __init__(self, name: str, job: Callable[[], Any]) -> None:
        super().__init__(name=name, daemon=True)
        self._job = job
        self.result: Any = None

    def run(self) -> None:
        self.result = self._job()

    def finish(self) -> Any:
        self.join(BOUND)
        assert not self.is_alive(), f"run {self.name} did not finish"
        return self.result


@pytest.fixture
def day_of_documents(s3_client: Any, bucket: str) -> list[str]:
    keys = [f"docs/{DAY}/doc-{i}.txt" for i in range(6)]
    put_texts(s3_client, bucket, keys)
    return keys


@pytest.fixture
def hooks(monkeypatch: pytest.MonkeyPatch) -> Iterator[Hooks]:
    yield Hooks(monkeypatch)


def submit_in(name: str, defs: Any, instance: DagsterInstance) -> Run:
    """A run of the submit job over DAY in its own thread, named for the hooks."""
    run = Run(name, lambda: runner(defs, instance).submit([DAY], raise_on_error=False))
    run.start()
    return run


def a_before_its_post_with_b_waiting(
    defs: Any, instance: DagsterInstance, hooks: Hooks
) -> tuple[Gate, Run, Run]:
    """A holds the lock, stopped right before its POST; B waits for that lock."""
    a_posting = hooks.gate_post("A")
    b_waits = hooks.watch_wait("B")
    a = submit_in("A", defs, instance)
    a_posting.wait_arrived("A right before its POST")
    b = submit_in("B", defs, instance)
    assert b_waits.wait(BOUND), "B never waited for A's lock"
    return a_posting, a, b


def sent_keys(emulator: Any) -> Counter[str]:
    return Counter(s["metadata"]["key"] for s in emulator.submissions())


def test_a_run_between_its_ledger_read_and_its_post_keeps_the_other_run_out(
    extend_emulator: Any,
    local_s3: Any,
    bucket: str,
    instance: DagsterInstance,
    db_path: Path,
    day_of_documents: list[str],
    hooks: Hooks,
) -> None:
    """The reported double send: A's intent landing between B's read and B's POST."""
    defs, _ = build(
        extend_emulator, local_s3, db_path, bucket=bucket, prefix_template="docs/{date}/"
    )
    b_reading = hooks.gate_read("B")
    a_waits = hooks.watch_wait("A")
    b = submit_in("B", defs, instance)
    b_reading.wait_arrived("B inside its ledger read")
    a = submit_in("A", defs, instance)
    assert a_waits.wait(BOUND), "A never waited for B's lock"
    assert extend_emulator.submissions() == []  # A has not read, let alone POSTed
    b_reading.go.set()
    b_result, a_result = b.finish(), a.finish()

    assert b_result.success and a_result.success
    assert sent_keys(extend_emulator) == Counter(day_of_documents)
    assert int(extend_emulator.counters()["POST /workflow_runs/batch"]) == 1
    assert metadata_value(b_result, "extend_workflow_batches", "documents_submitted") == 6
    assert metadata_value(a_result, "extend_workflow_batches", "documents_submitted") == 0
    assert metadata_value(a_result, "extend_workflow_batches", "documents_already_submitted") == 6


def test_documents_a_refused_submission_held_are_sent_by_the_run_that_waited(
    extend_emulator: Any,
    local_s3: Any,
    bucket: str,
    instance: DagsterInstance,
    db_path: Path,
    day_of_documents: list[str],
    hooks: Hooks,
) -> None:
    """The loss case: B waits for A; A's POST is refused (4xx); B sends A's documents."""
    defs, _ = build(
        extend_emulator, local_s3, db_path, bucket=bucket, prefix_template="docs/{date}/"
    )
    b_posting = hooks.gate_post("B")
    a_posting, a, b = a_before_its_post_with_b_waiting(defs, instance, hooks)
    extend_emulator.set_faults(usage_blocked=True)  # A's POST: 402, nothing created
    a_posting.go.set()
    assert not a.finish().success
    b_posting.wait_arrived("B right before its POST")  # B read A's abandoned intent
    extend_emulator.clear_faults()
    b_posting.go.set()
    b_result = b.finish()

    assert b_result.success
    assert metadata_value(b_result, "extend_workflow_batches", "documents_submitted") == 6
    assert sent_keys(extend_emulator) == Counter(day_of_documents)


def test_an_intent_whose_owner_died_before_its_post_is_reconciled_and_resent_once(
    extend_emulator: Any,
    local_s3: Any,
    bucket: str,
    instance: DagsterInstance,
    db_path: Path,
    day_of_documents: list[str],
    hooks: Hooks,
) -> None:
    """A dies holding an open intent (its lock goes with it); B waits, then reconciles:
    Extend never listed A's runs, so after the grace B abandons A's intent and sends."""
    defs, _ = build(
        extend_emulator, local_s3, db_path, bucket=bucket, prefix_template="docs/{date}/",
        reconcile_grace_seconds=0.5,
    )  # fmt: skip
    a_posting, a, b = a_before_its_post_with_b_waiting(defs, instance, hooks)
    a_posting.crash = True  # A dies between its intent and its POST
    a_posting.go.set()
    assert not a.finish().success
    b_result = b.finish()

    assert b_result.success
    assert metadata_value(b_result, "extend_workflow_batches", "documents_submitted") == 6
    assert sent_keys(extend_emulator) == Counter(day_of_documents)


def test_a_lost_answer_whose_runs_extend_creates_late_is_adopted_not_resent(
    extend_emulator: Any,
    local_s3: Any,
    bucket: str,
    instance: DagsterInstance,
    db_path: Path,
    day_of_documents: list[str],
) -> None:
    """Extend only says a batch's runs are queued: the answer is lost, the runs appear
    seconds later, and the next run's reconcile waits for them instead of resending."""
    from extend_assets.resources import ExtendResource
    from extend_assets_tests.assets.harness import resources

    defs, workflow = build(
        extend_emulator, local_s3, db_path, bucket=bucket, prefix_template="docs/{date}/",
        reconcile_grace_seconds=120.0,
    )  # fmt: skip
    impatient = resources(extend_emulator, local_s3, db_path)
    impatient["extend"] = ExtendResource(
        api_key=extend_emulator.api_key, base_url=extend_emulator.base_url, timeout=1.0
    )
    lost_defs = Definitions(
        assets=workflow.assets, jobs=workflow.jobs, sensors=workflow.sensors, resources=impatient
    )
    extend_emulator.set_faults(batch_create_delay_seconds=4.0, slow_after_commit_seconds=3.0)
    first = runner(lost_defs, instance).submit([DAY], raise_on_error=False)
    assert not first.success  # the answer never arrived: outcome unknown, intent open
    extend_emulator.clear_faults()
    again = runner(defs, instance).submit([DAY])
    assert metadata_value(again, "extend_workflow_batches", "documents_submitted") == 0
    assert metadata_value(again, "extend_workflow_batches", "documents_adopted") == 6
    assert sent_keys(extend_emulator) == Counter(day_of_documents)
    assert int(extend_emulator.counters()["POST /workflow_runs/batch"]) == 1
