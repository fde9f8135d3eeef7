"""Names shared by the client's callers, declared once.

The API's own limits live in :mod:`extend_assets.client.validation` (``MAX_*``); the
emulator keeps its own copies on purpose, as an independent check.
"""

from __future__ import annotations

from typing import Literal

SUBMISSION_METADATA_KEY = "extend_assets_submission"
"""The run-metadata key carrying the id of the submission that created a run."""

USAGE_TAGS_KEY = "extend:usage_tags"
"""Extend's run-metadata key for usage tags (billing breakdowns)."""

ReviewPolicy = Literal["wait", "settle"]
"""What a NEEDS_REVIEW run means for its partition: ``wait`` for the reviewer, or
``settle`` now (and build the tables again once it is reviewed)."""

REVIEW_POLICIES: tuple[str, ...] = ("wait", "settle")
