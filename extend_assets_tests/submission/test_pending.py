"""Which upstream texts become documents to send."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from extend_assets.flatten.coerce import TEXT
from extend_assets.submission.pending import TextSource, pending_from_texts


@pytest.mark.parametrize(
    "bodies",
    [
        pd.array(["Invoice A-1", None, "Invoice A-2"], dtype=TEXT),  # pd.NA, as loaded now
        pd.array(["Invoice A-1", None, "Invoice A-2"], dtype="string"),
        np.array(["Invoice A-1", None, "Invoice A-2"], dtype=object),
        np.array(["Invoice A-1", np.nan, "Invoice A-2"], dtype=object),
    ],
    ids=["arrow-text", "python-string", "object-none", "object-nan"],
)
def test_a_missing_text_is_skipped_whatever_the_null(bodies: object) -> None:
    frame = pd.DataFrame({"id": ["m1", "m2", "m3"], "text": bodies})
    pending = pending_from_texts(TextSource("emails"), frame, ["2025-01-15"], set())
    assert [p.version.name for p in pending] == ["m1", "m3"]
    assert [p.raw_text for p in pending] == ["Invoice A-1", "Invoice A-2"]
