"""The Submitter against an in-memory client: chunking, the ledger around each POST, reconcile."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from extend_assets.client import (
    SUBMISSION_METADATA_KEY,
    ExtendBadRequestError,
    ExtendOutcomeUnknownError,
    WorkflowRun,
)
from extend_assets.errors import SubmissionError
from extend_assets.submission.ledger import DocumentVersion, LedgerEvent, PartitionLedger
from extend_assets.submission.submitter import PendingDocument, Submitter
from extend_assets_tests.client.payloads import run_json

T0 = 1_700_000_000.0


@dataclass
class FakeSummary:
    id: str
    batch_id: str | None
    created_at: datetime


@dataclass
class FakeClient:
    """Records every POST; keeps the runs it created, newest first for listing."""

    posts: list[tuple[str, Any]] = field(default_factory=list)
    runs: list[tuple[FakeSummary, dict[str, Any]]] = field(default_factory=list)
    fail_with: Exception | None = None
    fail_after_create: bool = False
    supports_batch_priority: bool = False
    priorities: list[int | None] = field(default_factory=list)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def _create(self, metadata: Mapping[str, Any], batch_id: str | None) -> str:
        run_id = f"workflow_run_{next(self._ids):04d}"
        created = datetime.fromtimestamp(T0 + len(self.runs), UTC)
        self.runs.append((FakeSummary(run_id, batch_id, created), dict(metadata)))
        return run_id

    def _maybe_fail(self) -> None:
        if self.fail_with is not None and not self.fail_after_create:
            raise self.fail_with

    def batch_run_workflow(
        self,
        workflow_id: str,
        inputs: Sequence[Mapping[str, Any]],
        version: str | None = None,
        priority: int | None = None,
    ) -> str:
        self._maybe_fail()
        self.priorities.append(priority)
        self.posts.append(("batch", list(inputs)))
        batch_id = f"batch_{len(self.posts)}"
        for item in inputs:
            self._create(item["metadata"], batch_id)
        if self.fail_with is not None:
            raise self.fail_with
        return batch_id

    def run_workflow(self, workflow_id: str, **kwargs: Any) -> list[WorkflowRun]:
        self._maybe_fail()
        self.posts.append(("run", kwargs))
        count = len(kwargs.get("files") or kwargs.get("raw_texts") or [])
        ids = [self._create(kwargs["metadata"], None) for _ in range(count)]
        return [WorkflowRun.from_json(run_json(run_id)) for run_id in ids]

    hidden_lists: int = 0
    """Listings that do not show the runs yet (Extend creating a batch's runs late)."""
    lists: int = 0

    def list_workflow_runs(self, **filters: Any) -> Iterator[FakeSummary]:
        self.lists += 1
        if self.lists <= self.hidden_lists:
            return
        for summary, _ in reversed(self.runs):
            yield summary

    def get_workflow_run(self, run_id: str) -> WorkflowRun:
        for summary, metadata in self.runs:
            if summary.id == run_id:
                return WorkflowRun.from_json(run_json(run_id, metadata=metadata))
        raise KeyError(run_id)


def documents(count: int, partition: str = "2025-01-13") -> list[PendingDocument]:
    return [
        PendingDocument(
            version=DocumentVersion("bucket", f"{partition}/doc{i}.pdf", f"etag{i}"),
            partition=partition,
            file_name=f"doc{i}.pdf",
            metadata={"bucket": "bucket", "key": f"{partition}/doc{i}.pdf", "partition": partition},
            bucket="bucket",
            key=f"{partition}/doc{i}.pdf",
        )
        for i in range(count)
    ]


def submitter(client: FakeClient, events: list[LedgerEvent], **options: Any) -> Submitter:
    clock = itertools.count(T0)
    options.setdefault("reconcile_grace_seconds", 0.0)
    options.setdefault("sleep", lambda seconds: None)
    return Submitter(
        client,  # type: ignore[arg-type]
        "workflow_x",
        record=events.append,
        presign=lambda bucket, key: f"https://s3.test/{bucket}/{key}?X-Amz-Signature=abc",
        clock=lambda: float(next(clock)),
        **options,
    )


def test_batches_of_1000_across_partitions_with_intent_before_and_outcome_after() -> None:
    client, events = FakeClient(), []  # type: ignore[var-annotated]
    pending = documents(1500, "2025-01-13") + documents(700, "2025-01-14")
    result = submitter(client, events).submit(pending)
    assert [len(inputs) for kind, inputs in client.posts] == [1000, 1000, 200]
    assert result.documents_submitted == 2200 and len(result.batch_ids) == 3
    phases = [(e.phase, e.partition) for e in events]
    # Each chunk: every partition's intent, then every partition's outcome.
    assert phases[:2] == [("intent", "2025-01-13"), ("submitted", "2025-01-13")]
    assert ("intent", "2025-01-14") in phases[2:4] and ("submitted", "2025-01-14") in phases[4:]
    tagged = {m[SUBMISSION_METADATA_KEY] for _, m in client.runs}
    assert tagged == {e.submission_id for e in events}


def test_priority_sends_50_per_post_within_one_partition() -> None:
    client, events = FakeClient(), []  # type: ignore[var-annotated]
    submitter(client, events, priority=10).submit(documents(60, "a") + documents(10, "b"))
    sizes = [len(kwargs["files"]) for kind, kwargs in client.posts]
    assert sizes == [50, 10, 10]
    assert {kwargs["priority"] for _, kwargs in client.posts} == {10}
    assert [kwargs["metadata"]["partition"] for _, kwargs in client.posts] == ["a", "a", "b"]


def test_priority_rides_in_batches_where_the_api_allows_it() -> None:
    client, events = FakeClient(supports_batch_priority=True), []  # type: ignore[var-annotated]
    submitter(client, events, priority=10).submit(documents(1200, "a") + documents(10, "b"))
    assert [(kind, len(inputs)) for kind, inputs in client.posts] == [
        ("batch", 1000),
        ("batch", 210),
    ]
    assert client.priorities == [10, 10]


def test_oversized_metadata_fails_before_any_post() -> None:
    client, events = FakeClient(), []  # type: ignore[var-annotated]
    with pytest.raises(SubmissionError, match="10240"):
        submitter(client, events, user_metadata={"blob": "x" * 11_000}).submit(documents(3))
    assert client.posts == [] and events == []


def test_a_refused_post_is_abandoned_and_an_unknown_outcome_stays_open() -> None:
    refused = FakeClient(fail_with=ExtendBadRequestError("bad", status=400))
    events: list[LedgerEvent] = []
    with pytest.raises(SubmissionError, match="refused"):
        submitter(refused, events).submit(documents(2))
    assert [e.phase for e in events] == ["intent", "abandoned"]

    unknown = FakeClient(
        fail_with=ExtendOutcomeUnknownError("timeout", status=None), fail_after_create=True
    )
    events = []
    with pytest.raises(SubmissionError, match="reconciled"):
        submitter(unknown, events).submit(documents(2))
    assert [e.phase for e in events] == ["intent"]
    assert len(unknown.runs) == 2  # Extend did create them


def test_reconcile_adopts_what_reached_extend_and_abandons_the_rest() -> None:
    client = FakeClient(
        fail_with=ExtendOutcomeUnknownError("t", status=None), fail_after_create=True
    )
    events: list[LedgerEvent] = []
    with pytest.raises(SubmissionError):
        submitter(client, events).submit(documents(3))
    ledger = PartitionLedger("2025-01-13")
    for event in events:
        ledger.apply(event)
    # A second intent that never reached Extend.
    ledger.apply(
        LedgerEvent(
            "sub_lost", "intent", "2025-01-13", T0, documents=(DocumentVersion("b", "k", "e"),)
        )
    )
    client.fail_with = None
    later: list[LedgerEvent] = []
    result = submitter(client, later).reconcile(ledger.open_submissions(), known_batch_ids=set())
    assert set(result.found) == {f"{events[0].submission_id}/2025-01-13"}
    assert set(result.abandoned) == {"sub_lost/2025-01-13"}
    for event in later:
        ledger.apply(event)
    assert ledger.open_submissions() == []
    assert len(ledger.latest_submission_by_document()) == 3  # adopted, not resent
    assert len(client.posts) == 1


def lost_answer(client: FakeClient) -> list[LedgerEvent]:
    """A batch Extend accepted whose answer never arrived: its intent stays open."""
    events: list[LedgerEvent] = []
    client.fail_with, client.fail_after_create = ExtendOutcomeUnknownError("timeout"), True
    with pytest.raises(SubmissionError, match="did not confirm"):
        submitter(client, events).submit(documents(3))
    client.fail_with = None
    return events


class ManualClock:
    """Time that moves only when the code under test sleeps."""

    def __init__(self, now: float) -> None:
        self.now = now
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def reconciling(client: FakeClient, clock: ManualClock, later: list[LedgerEvent]) -> Submitter:
    return Submitter(
        client,  # type: ignore[arg-type]
        "workflow_x",
        record=later.append,
        presign=lambda bucket, key: "",
        clock=clock,
        reconcile_grace_seconds=60.0,
        sleep=clock.sleep,
    )


def test_runs_extend_lists_late_are_found_not_abandoned_and_not_resent() -> None:
    client = FakeClient()
    [intent] = lost_answer(client)
    ledger = PartitionLedger("2025-01-13")
    ledger.apply(intent)
    client.hidden_lists, client.lists = 2, 0  # the batch's runs show up on the third listing
    clock, later = ManualClock(intent.recorded_at + 1), []  # type: ignore[var-annotated]
    result = reconciling(client, clock, later).reconcile(
        ledger.open_submissions(), known_batch_ids=set()
    )
    assert set(result.found) == {f"{intent.submission_id}/2025-01-13"} and not result.abandoned
    assert len(clock.sleeps) == 2 and client.lists == 3
    assert [e.phase for e in later] == ["submitted"] and later[0].batch_id == "batch_1"
    assert len(client.posts) == 1


def test_an_intent_extend_never_lists_is_abandoned_once_the_grace_has_passed() -> None:
    client = FakeClient()
    ledger = PartitionLedger("2025-01-13")
    ledger.apply(
        LedgerEvent("sub_lost", "intent", "2025-01-13", T0, (DocumentVersion("b", "k", "e"),))
    )
    clock, later = ManualClock(T0 + 10), []  # type: ignore[var-annotated]
    result = reconciling(client, clock, later).reconcile(
        ledger.open_submissions(), known_batch_ids=set()
    )
    assert set(result.abandoned) == {"sub_lost/2025-01-13"}
    assert clock.now == pytest.approx(T0 + 60) and sum(clock.sleeps) == pytest.approx(50.0)
    assert [e.phase for e in later] == ["abandoned"]


def test_a_submission_that_no_longer_holds_its_lock_never_posts() -> None:
    from extend_assets.submission.locks import LockLostError

    client, events = FakeClient(), []  # type: ignore[var-annotated]

    def fence() -> None:
        raise LockLostError("lost the connection that holds the submission lock")

    with pytest.raises(LockLostError):
        submitter(client, events, fence=fence, owner="run_a").submit(documents(3))
    assert client.posts == []
    # Its intent stays open for the next holder to reconcile: the owner writes no outcome.
    assert [(e.phase, e.owner) for e in events] == [("intent", "run_a")]
