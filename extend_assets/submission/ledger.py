"""The submission ledger: which document versions went to Extend, in which batch.

Exactly once, across processes and machines
-------------------------------------------
A document version is ``(namespace, name, version)``: ``(bucket, key, etag)`` for S3
objects, ``("text:<source>", id, sha256)`` for raw texts. It is submitted at most once
unless the user asks to reprocess.

The ledger lives in the Dagster instance's event log (SQLite locally, Postgres in
production), as observations on the submission asset's partition
(:mod:`extend_assets.event_log` reads and writes them). An observation logged from a
step is written to the event log at once, not at the end of the step, so it survives
a crash of the step right after it. Each chunk of
documents (at most 1000) goes through three phases:

1. ``intent``: before the POST, record a fresh submission id and the chunk's
   document versions.
2. POST the chunk, tagging every input's metadata with the submission id
   (``extend_assets_submission``).
3. ``submitted``: record the batch id (or run ids) the API returned.

If the step dies (or the POST's outcome is unknown: a 5xx or a timeout after the
request was sent) between 1 and 3, the ledger holds an intent without an outcome.
The next materialization *reconciles* it before submitting anything: it lists the
workflow's runs created since the intent (newest first, stopping at the intent's
time minus a margin), looks at one run of each unknown batch, and if that run
carries the intent's submission id records ``submitted`` with that batch id.
Extend only promises that a batch's runs are *queued* when the POST returns, so an
intent whose runs are not listed yet is asked about again until
``reconcile_grace_seconds`` after the intent have passed; only then is it recorded
``abandoned`` and its documents submitted again. Either way no document is lost and
none is sent twice.

Concurrent submissions (two backfills over overlapping partitions, in any number of
processes or machines, whatever the pool limit) take turns: a submission holds a lock
per (workflow, partition) (:mod:`extend_assets.submission.locks`) from its first
ledger read to its last record. Hence

- an intent is abandoned only when its owner is known dead: owners hold the lock from
  intent to outcome, so an open intent seen under the lock has no live owner;
- an abandoned intent can never POST: its owner checks, before each POST, that it
  still holds the lock (the fence), and nobody abandons an intent while its owner does;
- documents another submission was sending are never silently left behind: the next
  holder reads that submission's outcome, and sends them itself if it was abandoned.

Each event carries its owner (the Dagster run id) itself, so every store that holds it
knows who wrote it. The ledger lives in the event log alone; after an asset wipe hides
it, :mod:`extend_assets.submission.rebuild` recovers what was sent from Extend's runs
(each carries its document's identity and submission id in its metadata), so no key
value store is needed for exactly once.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from extend_assets.client import WorkflowRun

Phase = Literal["intent", "submitted", "abandoned"]


@dataclass(frozen=True, order=True)
class DocumentVersion:
    """What is submitted at most once: ``(bucket, key, etag)`` or a raw text's identity."""

    namespace: str
    name: str
    version: str

    def to_json(self) -> list[str]:
        return [self.namespace, self.name, self.version]

    @classmethod
    def from_json(cls, data: Sequence[str]) -> DocumentVersion:
        return cls(str(data[0]), str(data[1]), str(data[2]))


@dataclass(frozen=True)
class LedgerEvent:
    """One phase of one submission, as stored in an observation's metadata."""

    submission_id: str
    phase: Phase
    partition: str
    recorded_at: float
    documents: tuple[DocumentVersion, ...] = ()
    batch_id: str | None = None
    run_ids: tuple[str, ...] = ()
    reconciled: bool = False
    owner: str | None = None
    """The Dagster run that recorded the event."""

    def to_json(self) -> dict[str, Any]:
        return {
            "submission_id": self.submission_id,
            "phase": self.phase,
            "partition": self.partition,
            "recorded_at": self.recorded_at,
            "documents": [doc.to_json() for doc in self.documents],
            "batch_id": self.batch_id,
            "run_ids": list(self.run_ids),
            "reconciled": self.reconciled,
            "owner": self.owner,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> LedgerEvent:
        return cls(
            submission_id=str(data["submission_id"]),
            phase=data["phase"],
            partition=str(data["partition"]),
            recorded_at=float(data.get("recorded_at") or 0.0),
            documents=tuple(DocumentVersion.from_json(d) for d in data.get("documents") or ()),
            batch_id=data.get("batch_id"),
            run_ids=tuple(data.get("run_ids") or ()),
            reconciled=bool(data.get("reconciled", False)),
            owner=data.get("owner"),
        )


@dataclass
class Submission:
    """The folded state of one submission id within one partition."""

    submission_id: str
    partition: str
    recorded_at: float
    documents: tuple[DocumentVersion, ...] = ()
    phase: Phase = "intent"
    batch_id: str | None = None
    run_ids: tuple[str, ...] = ()
    reconciled: bool = False
    order: int | None = None
    """Storage id of the submission's first record in the event log: the total order."""
    dagster_run_id: str | None = None
    """The Dagster run that recorded the intent."""

    @property
    def is_open(self) -> bool:
        """An intent whose outcome was never recorded: it must be reconciled first."""
        return self.phase == "intent"


@dataclass
class PartitionLedger:
    """Every submission recorded for one partition, in the order they were made."""

    partition: str
    submissions: dict[str, Submission] = field(default_factory=dict)
    rebuilt_after_wipe: float | None = None
    """The wipe (Unix seconds) after which this ledger was last rebuilt from Extend."""

    def apply(self, event: LedgerEvent, order: int | None = None) -> None:
        sub = self.submissions.get(event.submission_id)
        if sub is None:
            sub = Submission(event.submission_id, event.partition, event.recorded_at)
            sub.dagster_run_id = event.owner
            self.submissions[event.submission_id] = sub
        if order is not None and (sub.order is None or order < sub.order):
            sub.order = order
        if event.documents:
            sub.documents = event.documents
        if event.phase != "intent":
            sub.phase = event.phase
            sub.batch_id = event.batch_id or sub.batch_id
            sub.run_ids = event.run_ids or sub.run_ids
            sub.reconciled = event.reconciled

    def open_submissions(self) -> list[Submission]:
        return [sub for sub in self.submissions.values() if sub.is_open]

    def submitted(self) -> list[Submission]:
        """Submissions that reached Extend, oldest first."""
        done = [sub for sub in self.submissions.values() if sub.phase == "submitted"]
        return sorted(done, key=lambda sub: sub.recorded_at)

    def latest_submission_by_document(self) -> dict[DocumentVersion, Submission]:
        """Each submitted document version mapped to its newest submission."""
        latest: dict[DocumentVersion, Submission] = {}
        for sub in self.submitted():
            for doc in sub.documents:
                latest[doc] = sub
        return latest


def document_of_run(
    run: WorkflowRun, documents: Sequence[DocumentVersion], run_ids: Sequence[str]
) -> DocumentVersion | None:
    if run.id in run_ids and len(run_ids) == len(documents):
        return documents[list(run_ids).index(run.id)]
    meta = run.metadata or {}
    if "bucket" in meta and "key" in meta:
        return DocumentVersion(str(meta["bucket"]), str(meta["key"]), str(meta.get("etag", "")))
    if "source_id" in meta and "source" in meta:
        for doc in documents:
            if doc.namespace == meta["source"] and doc.name == str(meta["source_id"]):
                return doc
    return None


def new_submission_id() -> str:
    return f"sub_{uuid.uuid4().hex}"
