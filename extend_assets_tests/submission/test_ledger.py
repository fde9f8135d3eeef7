"""The ledger folds its events into submissions and survives a round trip through a real instance."""

from __future__ import annotations

from dagster import AssetKey, DagsterInstance

from extend_assets.event_log import EventLogLedger
from extend_assets.submission.ledger import DocumentVersion, LedgerEvent, PartitionLedger

KEY = AssetKey(["invoices", "extend_workflow_batches"])
DOC_A = DocumentVersion("bucket", "invoices/2025-01-15/a.pdf", "etag-a")
DOC_B = DocumentVersion("bucket", "invoices/2025-01-15/b.pdf", "etag-b")


def intent(sub: str, partition: str, *docs: DocumentVersion, at: float = 1.0) -> LedgerEvent:
    return LedgerEvent(sub, "intent", partition, at, documents=docs)


def test_open_intent_until_an_outcome_is_recorded() -> None:
    ledger = PartitionLedger("2025-01-15")
    ledger.apply(intent("sub_1", "2025-01-15", DOC_A, DOC_B))
    assert [s.submission_id for s in ledger.open_submissions()] == ["sub_1"]
    assert ledger.latest_submission_by_document() == {}

    ledger.apply(LedgerEvent("sub_1", "submitted", "2025-01-15", 2.0, batch_id="batch_1"))
    assert ledger.open_submissions() == []
    latest = ledger.latest_submission_by_document()
    assert set(latest) == {DOC_A, DOC_B}
    assert latest[DOC_A].batch_id == "batch_1"
    # The intent's documents are kept when the outcome does not repeat them.
    assert latest[DOC_A].documents == (DOC_A, DOC_B)


def test_abandoned_intent_frees_its_documents() -> None:
    ledger = PartitionLedger("2025-01-15")
    ledger.apply(intent("sub_1", "2025-01-15", DOC_A))
    ledger.apply(LedgerEvent("sub_1", "abandoned", "2025-01-15", 2.0, reconciled=True))
    assert ledger.open_submissions() == []
    assert ledger.latest_submission_by_document() == {}


def test_newest_submission_wins_for_a_resent_document() -> None:
    ledger = PartitionLedger("2025-01-15")
    ledger.apply(intent("sub_1", "2025-01-15", DOC_A, at=1.0))
    ledger.apply(LedgerEvent("sub_1", "submitted", "2025-01-15", 1.5, batch_id="batch_old"))
    ledger.apply(intent("sub_2", "2025-01-15", DOC_A, at=5.0))
    ledger.apply(LedgerEvent("sub_2", "submitted", "2025-01-15", 5.5, batch_id="batch_new"))
    assert ledger.latest_submission_by_document()[DOC_A].batch_id == "batch_new"


def test_events_round_trip_through_the_event_log() -> None:
    with DagsterInstance.ephemeral() as instance:
        store = EventLogLedger(instance, KEY)
        events = [
            intent("sub_1", "2025-01-15", DOC_A, DOC_B),
            LedgerEvent("sub_1", "submitted", "2025-01-15", 2.0, batch_id="batch_1"),
            intent("sub_2", "2025-01-16", DOC_A),
        ]
        for event in events:
            instance.report_runless_asset_event(store.observation(event))
        ledgers = store.read(["2025-01-15", "2025-01-16", "2025-01-17"])
    assert set(ledgers["2025-01-15"].latest_submission_by_document()) == {DOC_A, DOC_B}
    assert [s.submission_id for s in ledgers["2025-01-16"].open_submissions()] == ["sub_2"]
    assert ledgers["2025-01-17"].submissions == {}


def test_the_owner_travels_inside_the_event_so_every_store_knows_it() -> None:
    event = LedgerEvent("sub_1", "intent", "2025-01-15", 1.0, (DOC_A,), owner="run_a")
    again = LedgerEvent.from_json(event.to_json())
    assert again == event
    ledger = PartitionLedger("2025-01-15")
    ledger.apply(again, order=7)
    assert ledger.submissions["sub_1"].dagster_run_id == "run_a"
    assert ledger.submissions["sub_1"].order == 7
