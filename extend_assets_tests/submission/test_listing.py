"""Partition selection: prefix templates and LastModified windows, with clear errors."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from extend_assets.errors import PartitionSelectionError
from extend_assets.submission.listing import PartitionSelector
from extend_assets.submission.s3 import SourceObject, skip_reason


def obj(key: str, size: int = 10, modified: datetime | None = None) -> SourceObject:
    return SourceObject("b", key, "e", size, modified or datetime(2025, 1, 15, 12, tzinfo=UTC))


def test_prefix_template_fills_the_date() -> None:
    selector = PartitionSelector("invoices/{date}/")
    assert selector.prefix_for("2025-01-15") == "invoices/2025-01-15/"


def test_prefix_template_without_date_is_refused_with_the_fix() -> None:
    with pytest.raises(
        PartitionSelectionError, match=r"no \{date\} placeholder.*invoices/\{date\}/"
    ):
        PartitionSelector("invoices/")


def test_unknown_placeholder_is_refused() -> None:
    with pytest.raises(PartitionSelectionError, match="unknown placeholders"):
        PartitionSelector("invoices/{date}/{region}/")


def test_last_modified_selection_uses_a_fixed_prefix_and_the_day() -> None:
    selector = PartitionSelector("inbox/", selection="last_modified")
    assert selector.prefix_for("2025-01-15") == "inbox/"
    assert selector.owns(obj("inbox/a.pdf"), "2025-01-15")
    assert not selector.owns(obj("inbox/a.pdf"), "2025-01-16")
    with pytest.raises(PartitionSelectionError, match="fixed prefix"):
        PartitionSelector("inbox/{date}/", selection="last_modified")


@pytest.mark.parametrize(
    ("key", "size", "reason"),
    [
        ("invoices/a.pdf", 10, None),
        ("invoices/a.PDF", 10, None),
        ("invoices/notes.md", 10, None),
        ("invoices/empty.pdf", 0, None),  # submitted: Extend reports it as a FAILED run
        ("invoices/archive.zip", 10, "unsupported_type"),
        ("invoices/noext", 10, "unsupported_type"),
        ("invoices/sub/", 0, "folder_marker"),
    ],
)
def test_skip_reasons(key: str, size: int, reason: str | None) -> None:
    assert skip_reason(obj(key, size)) == reason
