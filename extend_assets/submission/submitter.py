"""Submitting documents to Extend in as few calls as the API allows, exactly once.

The ledger module explains the exactly-once design; this module carries it out:
reconcile open intents, then send the remaining documents in chunks (1000 per
``POST /workflow_runs/batch``, or 50 per ``POST /workflow_runs`` when the user
set a priority), recording each chunk's intent before its POST and its outcome
after. Plain Python over the client; the Dagster asset wires it up.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from extend_assets.client import (
    MAX_BATCH_INPUTS,
    MAX_METADATA_BYTES,
    MAX_RUN_FILES,
    SUBMISSION_METADATA_KEY,
    USAGE_TAGS_KEY,
    ExtendClient,
    ExtendConnectionError,
    ExtendError,
    ExtendOutcomeUnknownError,
)
from extend_assets.errors import SubmissionError
from extend_assets.submission.ledger import (
    DocumentVersion,
    LedgerEvent,
    Submission,
    new_submission_id,
)

# Runs are listed back to an intent's time minus this margin, for clock skew
# between this machine and Extend.
RECONCILE_MARGIN_SECONDS = 600.0
# Extend only promises that a batch's runs are queued when the POST returns: an
# intent whose runs are not listed yet is asked about again, for this long after the
# intent, before it is abandoned (a POST in flight when its owner died included).
DEFAULT_RECONCILE_GRACE_SECONDS = 120.0
RECONCILE_POLL_SECONDS = 5.0

logger = logging.getLogger("extend_assets.submission")


@dataclass(frozen=True)
class PendingDocument:
    """A document version ready to go: where it is and what its run should carry."""

    version: DocumentVersion
    partition: str
    file_name: str
    metadata: Mapping[str, Any]
    bucket: str | None = None
    key: str | None = None
    raw_text: str | None = None


@dataclass
class SubmitResult:
    batch_ids: list[str] = field(default_factory=list)
    run_ids: list[str] = field(default_factory=list)
    documents_submitted: int = 0
    submissions: list[LedgerEvent] = field(default_factory=list)


@dataclass
class ReconcileResult:
    found: dict[str, LedgerEvent] = field(default_factory=dict)
    abandoned: dict[str, LedgerEvent] = field(default_factory=dict)


def run_metadata(
    doc_metadata: Mapping[str, Any],
    user_metadata: Mapping[str, Any],
    usage_tags: Sequence[str],
    submission_id: str,
) -> dict[str, Any]:
    """The metadata a run carries: the user's, the document's identity, the submission id."""
    metadata: dict[str, Any] = {
        **user_metadata,
        **doc_metadata,
        SUBMISSION_METADATA_KEY: submission_id,
    }
    if usage_tags:
        metadata[USAGE_TAGS_KEY] = list(usage_tags)
    return metadata


def check_metadata_size(metadata: Mapping[str, Any], where: str) -> None:
    size = len(json.dumps(metadata, separators=(",", ":"), ensure_ascii=False).encode())
    if size > MAX_METADATA_BYTES:
        raise SubmissionError(
            f"Run metadata for {where} is {size} bytes; Extend accepts at most "
            f"{MAX_METADATA_BYTES}. Shorten the `metadata` config of the Extend assets "
            "(it is copied onto every run). Nothing was submitted."
        )


def _by_partition(chunk: Sequence[PendingDocument]) -> dict[str, list[PendingDocument]]:
    by_partition: dict[str, list[PendingDocument]] = {}
    for doc in chunk:
        by_partition.setdefault(doc.partition, []).append(doc)
    return by_partition


def chunked(items: Sequence[PendingDocument], size: int) -> Iterator[Sequence[PendingDocument]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class Submitter:
    """Sends pending documents and keeps the ledger in step with every POST."""

    def __init__(
        self,
        client: ExtendClient,
        workflow_id: str,
        *,
        record: Callable[[LedgerEvent], None],
        presign: Callable[[str, str], str],
        clock: Callable[[], float],
        version: str | None = None,
        priority: int | None = None,
        user_metadata: Mapping[str, Any] | None = None,
        usage_tags: Sequence[str] = (),
        log: logging.Logger | Any = logger,
        fence: Callable[[], None] = lambda: None,
        owner: str | None = None,
        reconcile_grace_seconds: float = DEFAULT_RECONCILE_GRACE_SECONDS,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """``fence()`` runs right before each POST and raises unless this submission
        still holds its partitions (see :mod:`extend_assets.submission.locks`);
        ``owner`` (the Dagster run id) is written into every ledger event."""
        self._client = client
        self._workflow_id = workflow_id
        self._record = record
        self._presign = presign
        self._clock = clock
        self._version = version
        self._priority = priority
        # Batches of 1000 unless a priority is wanted where batches take none (2025-04-21):
        # then runs go 50 per POST /workflow_runs.
        self._batches = priority is None or bool(getattr(client, "supports_batch_priority", False))
        self._user_metadata = dict(user_metadata or {})
        self._usage_tags = tuple(usage_tags)
        self._log = log
        self._fence = fence
        self._owner = owner
        self._grace = reconcile_grace_seconds
        self._sleep = sleep

    # -- checks before anything is sent ---------------------------------------------

    def validate(self, documents: Sequence[PendingDocument]) -> None:
        """Fail before the first POST if any document's run metadata is too large."""
        for doc in documents:
            metadata = run_metadata(
                doc.metadata, self._user_metadata, self._usage_tags, "sub_" + "0" * 32
            )
            check_metadata_size(metadata, f"'{doc.file_name}' (partition {doc.partition})")

    # -- reconciliation ----------------------------------------------------------------

    def reconcile(
        self, open_submissions: Sequence[Submission], known_batch_ids: set[str]
    ) -> ReconcileResult:
        """Find out what became of intents recorded without an outcome.

        One submission id may span several partitions (a chunk crosses them in a
        single-run backfill); its outcome is recorded for each of them. An intent whose
        runs Extend does not list yet is asked about again until
        ``reconcile_grace_seconds`` after it; only then is it abandoned.
        """
        result = ReconcileResult()
        if not open_submissions:
            return result
        wanted: dict[str, list[Submission]] = {}
        for sub in open_submissions:
            wanted.setdefault(sub.submission_id, []).append(sub)
        since = min(sub.recorded_at for sub in open_submissions) - RECONCILE_MARGIN_SECONDS
        newest = max(sub.recorded_at for sub in open_submissions)
        found_batch: dict[str, str] = {}
        found_runs: dict[str, list[str]] = {}
        seen: dict[str, str | None] = {}
        for attempt in range(1_000_000):  # bounded by the grace period below
            still = set(wanted) - set(found_batch) - set(found_runs)
            self._search(still, since, known_batch_ids, found_batch, found_runs, seen)
            missing = [sid for sid in wanted if sid not in found_batch and sid not in found_runs]
            left = newest + self._grace - self._clock()
            if not missing or left <= 0:
                break
            if attempt == 0:
                self._log.info(
                    f"{len(missing)} unfinished submission(s) not listed by Extend yet; asking "
                    f"again for up to {left:.0f} s (runs may be created after the POST returns)."
                )
            self._sleep(min(RECONCILE_POLL_SECONDS, left))
        for submission_id, subs in wanted.items():
            for sub in subs:
                if submission_id in found_batch:
                    event = self._outcome(sub, "submitted", batch_id=found_batch[submission_id])
                    result.found[f"{submission_id}/{sub.partition}"] = event
                elif submission_id in found_runs:
                    event = self._outcome(sub, "submitted", run_ids=found_runs[submission_id])
                    result.found[f"{submission_id}/{sub.partition}"] = event
                else:
                    event = self._outcome(sub, "abandoned")
                    result.abandoned[f"{submission_id}/{sub.partition}"] = event
                self._record(event)
        self._log.info(
            f"Reconciled {len(wanted)} unfinished submission(s): "
            f"{len(found_batch) + len(found_runs)} reached Extend, "
            f"{len(wanted) - len(found_batch) - len(found_runs)} did not and will be resent."
        )
        return result

    def _search(
        self,
        wanted: set[str],
        since: float,
        known_batch_ids: set[str],
        found_batch: dict[str, str],
        found_runs: dict[str, list[str]],
        seen: dict[str, str | None],
    ) -> None:
        """One look at the runs created since ``since`` for the wanted submission ids
        (``seen`` caches each run's submission id across looks)."""
        if not wanted:
            return
        candidate_batches: dict[str, str] = {}
        unbatched_runs: list[str] = []
        for summary in self._client.list_workflow_runs(
            workflow_id=self._workflow_id, sort_by="createdAt", sort_dir="desc", page_size=1000
        ):
            created = summary.created_at
            if created is not None and created.timestamp() < since:
                break
            if summary.batch_id:
                if summary.batch_id not in known_batch_ids and summary.batch_id not in set(
                    found_batch.values()
                ):
                    candidate_batches.setdefault(summary.batch_id, summary.id)
            else:
                unbatched_runs.append(summary.id)
        for batch_id, run_id in candidate_batches.items():
            submission_id = self._submission_of(run_id, seen)
            if submission_id in wanted:
                found_batch.setdefault(submission_id, batch_id)
        if any(sid not in found_batch for sid in wanted):
            runs: dict[str, list[str]] = {}
            for run_id in reversed(unbatched_runs):  # oldest first keeps the POST's order
                submission_id = self._submission_of(run_id, seen)
                if submission_id in wanted and submission_id not in found_batch:
                    runs.setdefault(submission_id, []).append(run_id)
            found_runs.update(runs)

    def _submission_of(self, run_id: str, seen: dict[str, str | None]) -> str | None:
        if run_id not in seen:
            run = self._client.get_workflow_run(run_id)
            value = (run.metadata or {}).get(SUBMISSION_METADATA_KEY)
            seen[run_id] = str(value) if value else None
        return seen[run_id]

    def _outcome(
        self,
        sub: Submission,
        phase: str,
        batch_id: str | None = None,
        run_ids: Sequence[str] = (),
    ) -> LedgerEvent:
        return LedgerEvent(
            submission_id=sub.submission_id,
            phase=phase,  # type: ignore[arg-type]
            partition=sub.partition,
            recorded_at=self._clock(),
            batch_id=batch_id,
            run_ids=tuple(run_ids),
            reconciled=True,
            owner=self._owner,
        )

    # -- submission --------------------------------------------------------------------

    def submit(self, documents: Sequence[PendingDocument]) -> SubmitResult:
        """Send every document once, in the fewest calls; record each chunk around its POST."""
        self.validate(documents)
        result = SubmitResult()
        if self._batches:
            # Batches may cross partitions: a backfill of many small days still costs
            # ceil(N / 1000) POSTs in all.
            chunks = list(chunked(documents, MAX_BATCH_INPUTS))
        else:
            # One POST's metadata is shared by its runs, so keep each chunk in one partition.
            chunks = [
                chunk
                for partition in dict.fromkeys(doc.partition for doc in documents)
                for chunk in chunked(
                    [d for d in documents if d.partition == partition], MAX_RUN_FILES
                )
            ]
        for number, chunk in enumerate(chunks, start=1):
            events = self._submit_chunk(chunk)
            result.submissions.extend(events)
            result.documents_submitted += sum(len(event.documents) for event in events)
            for event in events:
                if event.batch_id and event.batch_id not in result.batch_ids:
                    result.batch_ids.append(event.batch_id)
                result.run_ids.extend(r for r in event.run_ids if r not in result.run_ids)
            self._log.info(
                f"Submitted chunk {number}/{len(chunks)}: {len(chunk)} document(s) "
                f"({result.documents_submitted}/{len(documents)} so far)."
            )
        return result

    def _submit_chunk(self, chunk: Sequence[PendingDocument]) -> list[LedgerEvent]:
        submission_id = new_submission_id()
        by_partition = _by_partition(chunk)
        recorded_at = self._clock()
        for partition, docs in by_partition.items():
            self._record(
                LedgerEvent(
                    submission_id=submission_id,
                    phase="intent",
                    partition=partition,
                    recorded_at=recorded_at,
                    documents=tuple(doc.version for doc in docs),
                    owner=self._owner,
                )
            )
        # The fence: never POST an intent this submission may no longer own.
        self._fence()
        try:
            batch_id, run_ids = self._post(chunk, submission_id)
        except ExtendOutcomeUnknownError:
            raise SubmissionError(
                "Extend did not confirm a submission (the request may or may not have been "
                "processed). Its intent is recorded; re-materialize the partition and the "
                "submission will be reconciled, without duplicates."
            ) from None
        except ExtendError as error:
            # A 4xx (or a retryable error that ran out of retries) means nothing was created.
            for partition in by_partition:
                self._record(
                    LedgerEvent(
                        submission_id, "abandoned", partition, self._clock(), owner=self._owner
                    )
                )
            raise SubmissionError(_submission_failure(error)) from None
        outcomes: list[LedgerEvent] = []
        for partition, docs in by_partition.items():
            partition_runs: tuple[str, ...] = ()
            if run_ids:
                positions = [i for i, doc in enumerate(chunk) if doc.partition == partition]
                partition_runs = tuple(run_ids[i] for i in positions)
            event = LedgerEvent(
                submission_id=submission_id,
                phase="submitted",
                partition=partition,
                recorded_at=self._clock(),
                documents=tuple(doc.version for doc in docs),
                batch_id=batch_id,
                run_ids=partition_runs,
                owner=self._owner,
            )
            self._record(event)
            outcomes.append(event)
        return outcomes

    def _post(
        self, chunk: Sequence[PendingDocument], submission_id: str
    ) -> tuple[str | None, list[str]]:
        if self._batches:
            inputs = [self._batch_input(doc, submission_id) for doc in chunk]
            batch_id = self._client.batch_run_workflow(
                self._workflow_id, inputs, version=self._version, priority=self._priority
            )
            return batch_id, []
        shared = run_metadata(
            {"partition": chunk[0].partition},
            self._user_metadata,
            self._usage_tags,
            submission_id,
        )
        if all(doc.raw_text is not None for doc in chunk):
            runs = self._client.run_workflow(
                self._workflow_id,
                raw_texts=[str(doc.raw_text) for doc in chunk],
                version=self._version,
                priority=self._priority,
                metadata=shared,
            )
        else:
            files = [self._file_input(doc) for doc in chunk]
            runs = self._client.run_workflow(
                self._workflow_id,
                files=files,
                version=self._version,
                priority=self._priority,
                metadata=shared,
            )
        return None, [run.id for run in runs]

    def _file_input(self, doc: PendingDocument) -> dict[str, Any]:
        if doc.bucket is None or doc.key is None:
            raise SubmissionError(
                f"Document {doc.file_name} has neither an S3 location nor a text."
            )
        return {"fileName": doc.file_name, "fileUrl": self._presign(doc.bucket, doc.key)}

    def _batch_input(self, doc: PendingDocument, submission_id: str) -> dict[str, Any]:
        metadata = run_metadata(doc.metadata, self._user_metadata, self._usage_tags, submission_id)
        if doc.raw_text is not None:
            return {"rawText": doc.raw_text, "metadata": metadata}
        return {"file": self._file_input(doc), "metadata": metadata}


def _submission_failure(error: ExtendError) -> str:
    """What went wrong, in the words of its cause: unreachable, or a refusal."""
    if isinstance(error, ExtendConnectionError):
        return (
            f"could not reach Extend, nothing was sent: {error} "
            "(is EXTEND_BASE_URL right, and is the emulator or the network up?)"
        )
    return f"Extend refused the submission: {error}"
