"""The sample corpus: deterministic, consistent, awkward where promised, readable by the rules."""

from __future__ import annotations

import io
import json
from collections import Counter
from pathlib import Path

import pytest
from pypdf import PdfReader

from extend_assets.emulator.config import load_workflows
from extend_assets.emulator.documents import read_document
from extend_assets.emulator.rules import classify, extract
from extend_assets.samples.corpus import AWKWARD, generate_corpus, write_corpus


def test_same_seed_same_bytes_other_seed_other_bytes() -> None:
    first = generate_corpus(60, seed=3)
    again = generate_corpus(60, seed=3)
    other = generate_corpus(60, seed=4)
    assert [(d.key, d.body) for d in first] == [(d.key, d.body) for d in again]
    assert [d.body for d in first] != [d.body for d in other]


def test_pdfs_carry_a_fixed_creation_date_not_the_wall_clock() -> None:
    """fpdf stamps 'now' by default, which made two runs a second apart differ."""
    pdfs = [
        d.body for d in generate_corpus(60) if d.key.endswith(".pdf") and d.body.startswith(b"%PDF")
    ]
    plain = [body for body in pdfs if b"/Encrypt" not in body]
    assert plain and all(b"/CreationDate (D:20250101000000Z)" in body for body in plain)


def test_partitions_are_daily_prefixes_ending_at_the_end_date() -> None:
    docs = generate_corpus(40, days=4)
    assert sorted({d.partition for d in docs}) == [
        "2025-01-12",
        "2025-01-13",
        "2025-01-14",
        "2025-01-15",
    ]
    assert all(d.key.startswith(f"invoices/{d.partition}/") for d in docs)


def test_every_awkward_kind_is_present_with_its_expected_outcome() -> None:
    docs = generate_corpus(30)
    outcomes = Counter((d.truth["expected_status"], d.truth["expected_failure_code"]) for d in docs)
    assert outcomes[("FAILED", "CORRUPT_FILE")] == 2  # zero-byte and corrupt
    assert outcomes[("FAILED", "PASSWORD_PROTECTED_FILE")] == 1
    assert outcomes[("FAILED", "OCR_ERROR")] == 1
    assert outcomes[("SKIPPED", None)] == 2  # the .zip and the folder marker
    assert outcomes[("NEEDS_REVIEW", None)] == 1
    assert any(d.key.endswith(".zip") for d in docs) and any(d.key.endswith("/") for d in docs)
    assert any(not d.truth["value"]["vendor"]["name"].isascii() for d in docs if d.truth["value"])
    assert {d.key.rsplit(".", 1)[-1] for d in docs} >= {"pdf", "txt", "md", "csv", "zip"}
    multipage = next(
        d
        for d in docs
        if d.key.endswith(".pdf") and d.truth["value"] and len(d.truth["value"]["line_items"]) == 24
    )
    assert len(PdfReader(io.BytesIO(multipage.body)).pages) >= 2
    assert len(AWKWARD) == 12


def test_totals_add_up() -> None:
    for doc in generate_corpus(300, seed=11):
        value = doc.truth["value"]
        if not value:
            continue
        items = value["line_items"]
        assert 1 <= len(items) <= 30
        for item in items:
            assert item["amount"] == pytest.approx(item["quantity"] * item["unit_price"], abs=0.01)
        subtotal = value["subtotal"]["amount"]
        assert subtotal == pytest.approx(sum(i["amount"] for i in items), abs=0.01)
        assert value["total"]["amount"] == pytest.approx(
            subtotal + value["tax"]["amount"], abs=0.01
        )


def test_the_emulator_rules_read_back_the_ground_truth() -> None:
    workflow = load_workflows()["workflow_sampleInvoices0000000"]
    assert workflow.schema is not None
    mismatches = []
    for doc in generate_corpus(600, seed=5):
        truth = doc.truth
        if truth["expected_status"] == "SKIPPED":
            continue
        read = read_document(doc.key, doc.body)
        if truth["expected_status"] == "FAILED":
            assert read.failure_code == truth["expected_failure_code"], doc.key
            continue
        assert read.text is not None, doc.key
        found = extract(read.text, workflow.schema, csv_mode=read.file_type == "CSV")
        kind, _ = classify(read.text, workflow.classifications)
        status = "NEEDS_REVIEW" if (found.min_confidence or 1) < 0.8 else "PROCESSED"
        if (found.value, status, kind.type) != (
            truth["value"],
            truth["expected_status"],
            truth["document_type"],
        ):
            mismatches.append(doc.key)
    assert mismatches == []


def test_write_corpus_lays_out_files_and_ground_truth(tmp_path: Path) -> None:
    docs = generate_corpus(20)
    truth_file = write_corpus(docs, tmp_path)
    lines = [json.loads(line) for line in truth_file.read_text(encoding="utf-8").splitlines()]
    assert [line["key"] for line in lines] == [d.key for d in docs]
    files = [d for d in docs if not d.key.endswith("/")]
    assert all((tmp_path / d.key).read_bytes() == d.body for d in files)


def test_a_large_corpus_on_request() -> None:
    docs = generate_corpus(10_000, days=7, seed=1)
    assert len(docs) == 10_000 and len({d.key for d in docs}) == 10_000
