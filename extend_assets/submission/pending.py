"""Which documents a materialization sends: the listed ones the ledger has not seen yet.

A document version is sent at most once unless the user asks to reprocess: ``failed``
resends the documents whose last run FAILED, ``all`` every listed document.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import pandas as pd

from extend_assets.client import ExtendClient
from extend_assets.errors import ExtendAssetsConfigError
from extend_assets.submission.ledger import DocumentVersion, PartitionLedger, document_of_run
from extend_assets.submission.submitter import PendingDocument

Reprocess = Literal["none", "failed", "all"]


@dataclass(frozen=True)
class TextSource:
    """An upstream asset of texts: its name and the columns holding id and text."""

    name: str
    id_column: str = "id"
    text_column: str = "text"


def pending_from_objects(frame: pd.DataFrame, done: set[DocumentVersion]) -> list[PendingDocument]:
    """Listed S3 objects not yet submitted (nor skipped), as documents to send."""
    pending: list[PendingDocument] = []
    for row in frame.itertuples(index=False):
        if isinstance(row.skip_reason, str):
            continue
        version = DocumentVersion(str(row.bucket), str(row.key), str(row.etag))
        if version in done:
            continue
        pending.append(
            PendingDocument(
                version=version,
                partition=str(row.partition),
                file_name=str(row.file_name),
                metadata={
                    "bucket": row.bucket,
                    "key": row.key,
                    "etag": row.etag,
                    "partition": row.partition,
                },
                bucket=str(row.bucket),
                key=str(row.key),
            )
        )
    return pending


def pending_from_texts(
    s: TextSource, frame: pd.DataFrame, partitions: Sequence[str], done: set[DocumentVersion]
) -> list[PendingDocument]:
    """Texts of an upstream frame not yet submitted; a text's version is its sha256."""
    missing = [c for c in (s.id_column, s.text_column) if c not in frame.columns]
    if missing:
        raise ExtendAssetsConfigError(
            f"raw_text_source {s.name} has no column(s) {missing}; it has "
            f"{list(frame.columns)}. Set raw_text_id_column / raw_text_column to the right names."
        )
    namespace = f"text:{s.name}"
    partition_of = text_partitions(frame, partitions, s.name)
    pending: list[PendingDocument] = []
    for index, (source_id, text) in enumerate(
        zip(frame[s.id_column], frame[s.text_column], strict=True)
    ):
        if pd.api.types.is_scalar(text) and pd.isna(text):  # None, NaN and pd.NA alike
            continue
        body = str(text)
        digest = hashlib.sha256(body.encode()).hexdigest()[:32]
        version = DocumentVersion(namespace, str(source_id), digest)
        if version in done:
            continue
        partition = partition_of[index]
        pending.append(
            PendingDocument(
                version=version,
                partition=partition,
                file_name=f"{source_id}.txt",
                metadata={
                    "source_id": str(source_id),
                    "partition": partition,
                    "source": namespace,
                    "version": digest,
                },
                raw_text=body,
            )
        )
    return pending


def text_partitions(frame: pd.DataFrame, partitions: Sequence[str], source_name: str) -> list[str]:
    """Each text's partition: its ``partition`` column, else its ``partition_date``, else the run's."""
    if "partition" in frame.columns:
        return [str(p) for p in frame["partition"]]
    if "partition_date" in frame.columns:
        return [pd.Timestamp(d).strftime("%Y-%m-%d") for d in frame["partition_date"]]
    if len(partitions) == 1:
        return [partitions[0]] * len(frame)
    raise ExtendAssetsConfigError(
        f"raw_text_source {source_name} spans {len(partitions)} partitions but has neither a "
        "'partition' nor a 'partition_date' column to tell which text belongs where. Add one."
    )


def current_versions(
    text_source: TextSource | None, documents: pd.DataFrame, partitions: Sequence[str]
) -> set[DocumentVersion]:
    """The document versions listed now: the ledger table shows only these."""
    if text_source is None:
        return {
            DocumentVersion(str(b), str(k), str(e))
            for b, k, e in zip(
                documents["bucket"], documents["key"], documents["etag"], strict=True
            )
        }
    return {doc.version for doc in pending_from_texts(text_source, documents, partitions, set())}


def already_done(
    client: ExtendClient,
    ledgers: Mapping[str, PartitionLedger],
    reprocess: Reprocess,
    log: Callable[[str], None],
) -> set[DocumentVersion]:
    """Document versions not to send again, honouring the reprocess option."""
    if reprocess == "all":
        return set()
    done: set[DocumentVersion] = set()
    for ledger in ledgers.values():
        done.update(ledger.latest_submission_by_document())
    if reprocess == "failed":
        failed = failed_documents(client, ledgers)
        log(f"Reprocessing {len(failed)} document(s) whose last run FAILED.")
        done -= failed
    return done


def failed_documents(
    client: ExtendClient, ledgers: Mapping[str, PartitionLedger]
) -> set[DocumentVersion]:
    failed: set[DocumentVersion] = set()
    for ledger in ledgers.values():
        latest = ledger.latest_submission_by_document()
        by_submission = {sub.submission_id: sub for sub in latest.values()}
        for sub in by_submission.values():
            run_ids: list[str] = []
            if sub.batch_id:
                run_ids = [
                    r.id for r in client.list_workflow_runs(batch_id=sub.batch_id, status="FAILED")
                ]
            elif sub.run_ids:
                run_ids = list(sub.run_ids)
            for run_id in run_ids:
                run = client.get_workflow_run(run_id)
                if str(run.status) != "FAILED":
                    continue
                doc = document_of_run(run, sub.documents, sub.run_ids)
                if doc is not None and latest.get(doc) is sub:
                    failed.add(doc)
    return failed
