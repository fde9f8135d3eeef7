"""After an asset wipe: what Extend already holds of some partitions, as ledger events.

A wipe hides the ledger's observations, but Extend keeps the record: every run this
package creates carries its document's identity (``bucket``/``key``/``etag``, or a
text's ``source``/``source_id``/``version``), its ``partition`` and its submission id
in its metadata. Listing the workflow's runs costs ⌈runs/1000⌉ calls; run summaries
carry no metadata, so each run not already in the ledger is read once (GET). The scan
stops at ``since``: no document version can have been sent before it existed (its S3
``LastModified``), so a day's documents cost about a day's runs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from extend_assets.client import SUBMISSION_METADATA_KEY, ExtendClient, WorkflowRun
from extend_assets.submission.ledger import DocumentVersion, LedgerEvent

LOG_EVERY_RUNS = 1000


@dataclass
class _Found:
    batch_id: str | None
    documents: list[DocumentVersion] = field(default_factory=list)
    run_ids: list[str] = field(default_factory=list)
    created: float = 0.0


def document_from_metadata(
    run: WorkflowRun, by_file_name: Mapping[str, DocumentVersion]
) -> DocumentVersion | None:
    """The document version a run was created for, from its metadata (or, for runs made
    in groups that share one metadata, from its file name among the listed documents)."""
    meta = run.metadata or {}
    if "bucket" in meta and "key" in meta:
        return DocumentVersion(str(meta["bucket"]), str(meta["key"]), str(meta.get("etag", "")))
    if "source" in meta and "source_id" in meta and "version" in meta:
        return DocumentVersion(str(meta["source"]), str(meta["source_id"]), str(meta["version"]))
    names = [f.name for f in run.files if f.name] if run.files else []
    for name in names:
        if name in by_file_name:
            return by_file_name[name]
    return None


def rebuild_ledger(
    client: ExtendClient,
    workflow_id: str,
    partitions: set[str],
    *,
    since: float | None,
    known_batch_ids: set[str],
    known_run_ids: set[str],
    by_file_name: Mapping[str, DocumentVersion],
    clock: Callable[[], float],
    log: Callable[[str], None],
    owner: str | None = None,
) -> dict[str, list[LedgerEvent]]:
    """One ``submitted`` event per (submission, partition) Extend holds and the ledger lacks."""
    found: dict[tuple[str, str], _Found] = {}
    read = 0
    for summary in client.list_workflow_runs(
        workflow_id=workflow_id, sort_by="createdAt", sort_dir="desc", page_size=1000
    ):
        created = summary.created_at.timestamp() if summary.created_at else None
        if since is not None and created is not None and created < since:
            break
        if summary.batch_id in known_batch_ids or summary.id in known_run_ids:
            continue
        run = client.get_workflow_run(summary.id)
        read += 1
        if read % LOG_EVERY_RUNS == 0:
            log(f"Rebuilding the ledger from Extend after an asset wipe: {read} runs read.")
        meta = run.metadata or {}
        submission_id = meta.get(SUBMISSION_METADATA_KEY)
        partition = str(meta.get("partition", ""))
        if not submission_id or partition not in partitions:
            continue
        doc = document_from_metadata(run, by_file_name)
        if doc is None:
            continue
        entry = found.setdefault((str(submission_id), partition), _Found(batch_id=summary.batch_id))
        entry.documents.append(doc)
        entry.created = max(entry.created, created or 0.0)
        if not summary.batch_id:
            entry.run_ids.append(run.id)
    events: dict[str, list[LedgerEvent]] = {p: [] for p in partitions}
    for (submission_id, partition), entry in sorted(found.items(), key=lambda i: i[1].created):
        # Listed newest first: put the documents (and runs) back in the POST's order.
        events[partition].append(
            LedgerEvent(
                submission_id=submission_id,
                phase="submitted",
                partition=partition,
                recorded_at=clock(),
                documents=tuple(reversed(entry.documents)),
                batch_id=entry.batch_id,
                run_ids=tuple(reversed(entry.run_ids)),
                reconciled=True,
                owner=owner,
            )
        )
    log(
        f"Rebuilt the ledger of {len(partitions)} partition(s) from Extend after an asset "
        f"wipe: {read} run(s) read, {sum(len(e.documents) for e in found.values())} "
        "document version(s) already sent."
    )
    return events
