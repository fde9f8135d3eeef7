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


def test_the_earliest_live_holder_of_a_version_wins_by_storage_order() -> None:
    from extend_assets.submission.ledger import earlier_claims

    day = "2025-01-15"
    ledger = PartitionLedger(day)
    ledger.apply(intent("sub_old", day, DOC_A), order=5)
    ledger.apply(LedgerEvent("sub_old", "submitted", day, 2.0, batch_id="b0"), order=6)
    ledger.apply(intent("sub_first", day, DOC_A), order=10)
    ledger.apply(intent("sub_gone", day, DOC_B), order=11)
    ledger.apply(LedgerEvent("sub_gone", "abandoned", day, 2.0), order=12)
    ledger.apply(intent("sub_mine", day, DOC_A, DOC_B), order=20)
    ledger.apply(intent("sub_later", day, DOC_B), order=30)
    ledgers = {day: ledger}
    # sub_old was settled before sub_mine began (a reprocess may resend it); the
    # abandoned and the later intents do not hold anything against sub_mine.
    settled = {("sub_old", day), ("sub_gone", day)}
    assert earlier_claims(ledgers, "sub_mine", settled) == {DOC_A: "sub_first"}
    assert earlier_claims(ledgers, "sub_first", settled) == {}
    assert earlier_claims(ledgers, "sub_later", settled) == {DOC_B: "sub_mine"}
    # Settled in another partition is not settled here: the submission still holds DOC_A.
    assert earlier_claims(ledgers, "sub_mine", {*settled, ("sub_first", "2025-01-14")}) == {
        DOC_A: "sub_first"
    }


def test_claims_are_ordered_per_partition_not_by_a_submissions_first_record() -> None:
    from extend_assets.submission.ledger import earlier_claims

    d13, d18 = "2025-01-13", "2025-01-18"
    late = DocumentVersion("bucket", "r/2025-01-18/late-0.txt", "e")
    ledgers = {d13: PartitionLedger(d13), d18: PartitionLedger(d18)}
    ledgers[d13].apply(intent("sub_b", d13, DOC_A), order=1)
    ledgers[d18].apply(intent("sub_a", d18, late), order=2)  # lands between b's two records
    ledgers[d18].apply(intent("sub_b", d18, late), order=3)
    assert earlier_claims(ledgers, "sub_a", set()) == {}
    assert earlier_claims(ledgers, "sub_b", set()) == {late: "sub_a"}
