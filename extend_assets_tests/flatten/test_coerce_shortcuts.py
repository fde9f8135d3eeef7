"""The converters' shortcuts give what their general paths give."""

from __future__ import annotations

import pandas as pd
import pytest

from extend_assets.flatten import coerce
from extend_assets.flatten.coerce import TEXT, _explicit_utc


def _explicit_utc_by_search(text: str) -> str:
    """``_explicit_utc`` without its ``...Z`` shortcut."""
    if len(text) == 10:
        return text + "T00:00:00Z"
    if len(text) > 10 and not coerce._OFFSET.search(text, 11):
        return text + "Z"
    return text


@pytest.mark.parametrize(
    "text",
    [
        "2025-01-15",
        "2025-01-15Z",
        "2025-01-15TZ",
        "2025-01-15T10:00:00Z",
        "2025-01-15T10:00:00.123z",
        "2025-01-15T10:00:00",
        "2025-01-15T10:00:00+02:00",
        "2025-01-15T10:00:00 Z ",
        "Z",
        "",
    ],
)
def test_the_z_shortcut_reads_as_the_offset_search(text: str) -> None:
    assert _explicit_utc(text) == _explicit_utc_by_search(text)


@pytest.mark.parametrize("raw", [["a", None, "b"], [], [None, None], ["é", "", "x" * 10_000]])
def test_text_columns_are_the_pandas_arrow_text_array(raw: list[str | None]) -> None:
    got, errors = coerce.strings(raw)
    expected = pd.array(raw, dtype=TEXT)
    assert errors == 0
    assert got.dtype == expected.dtype
    pd.testing.assert_extension_array_equal(got, expected)
