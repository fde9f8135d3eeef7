"""Validated settings of one workflow's assets: every bad argument fails at definition time."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from dagster import (
    AssetKey,
)

from extend_assets.listing import PartitionSelector
from extend_assets.submission import (
    METADATA_LIMIT_BYTES,
    check_metadata_size,
)

ReviewPolicy = Literal["wait", "settle"]


Reprocess = Literal["none", "failed", "all"]


PARTITION_EXPR = {"partition_expr": "partition_date"}


class ExtendAssetsConfigError(ValueError):
    """A factory argument that cannot work, named with its fix."""


@dataclass(frozen=True)
class AssetSettings:
    workflow_id: str
    name: str
    bucket: str | None
    selector: PartitionSelector | None
    workflow_version: str | None
    priority: int | None
    presign_expiry_seconds: int
    run_metadata: Mapping[str, Any]
    usage_tags: tuple[str, ...]
    raw_text_id_column: str
    raw_text_column: str
    raw_text_source_name: str | None
    failure_rate_threshold: float
    low_confidence_threshold: float
    tag_runs_on_extend: bool
    fetch_workers: int
    extend_resource_key: str
    source_resource_key: str


def validate_settings(**kw: Any) -> AssetSettings:
    def bad(field_name: str, problem: str, fix: str) -> ExtendAssetsConfigError:
        return ExtendAssetsConfigError(
            f"build_extend_workflow_assets({field_name}=...): {problem} {fix}"
        )

    if not kw["workflow_id"] or not str(kw["workflow_id"]).strip():
        raise bad("workflow_id", "is empty.", "Pass the id of your Extend workflow (workflow_...).")
    if not kw["name"].replace("_", "").isalnum():
        raise bad(
            "name", f"{kw['name']!r} is not a valid asset key part.", "Use letters, digits, _."
        )
    selector = None
    if kw["raw_text_source"] is None:
        if not kw["bucket"]:
            raise bad(
                "bucket",
                "is missing.",
                "Name the S3 bucket holding the documents (EXTEND_S3_BUCKET), or pass raw_text_source.",
            )
        selector = PartitionSelector(kw["prefix_template"], kw["selection"])
    priority = kw["priority"]
    if priority is not None and (not isinstance(priority, int) or not 1 <= priority <= 100):
        raise bad(
            "priority",
            f"{priority!r} is outside 1..100.",
            "Lower runs first; 50 is Extend's default.",
        )
    expiry = kw["presign_expiry_seconds"]
    if not 60 <= expiry <= 7 * 24 * 3600:
        raise bad(
            "presign_expiry_seconds",
            f"{expiry} is outside 60..604800.",
            "Extend suggests about 1800 s for batches, which may wait in a queue.",
        )
    if kw["review_policy"] not in ("wait", "settle"):
        raise bad(
            "review_policy", f"{kw['review_policy']!r} is unknown.", "Use 'wait' or 'settle'."
        )
    if not 0.0 <= kw["failure_rate_threshold"] <= 1.0:
        raise bad("failure_rate_threshold", "is outside 0..1.", "Use a fraction such as 0.1.")
    metadata = dict(kw["run_metadata"] or {})
    try:
        check_metadata_size(metadata, "the `run_metadata` argument")
    except ValueError as error:
        raise bad(
            "run_metadata", str(error), f"Keep it under {METADATA_LIMIT_BYTES} bytes."
        ) from None
    except RuntimeError as error:
        raise bad(
            "run_metadata", str(error), f"Keep it under {METADATA_LIMIT_BYTES} bytes."
        ) from None
    source = kw["raw_text_source"]
    return AssetSettings(
        workflow_id=str(kw["workflow_id"]).strip(),
        name=kw["name"],
        bucket=kw["bucket"],
        selector=selector,
        workflow_version=kw["workflow_version"],
        priority=priority,
        presign_expiry_seconds=expiry,
        run_metadata=metadata,
        usage_tags=tuple(kw["usage_tags"]),
        raw_text_id_column=kw["raw_text_id_column"],
        raw_text_column=kw["raw_text_column"],
        raw_text_source_name=None if source is None else as_asset_key(source).to_user_string(),
        failure_rate_threshold=kw["failure_rate_threshold"],
        low_confidence_threshold=kw["low_confidence_threshold"],
        tag_runs_on_extend=kw["tag_runs_on_extend"],
        fetch_workers=kw["fetch_workers"],
        extend_resource_key=kw["extend_resource_key"],
        source_resource_key=kw["source_resource_key"],
    )


def as_asset_key(value: AssetKey | str | Sequence[str]) -> AssetKey:
    if isinstance(value, AssetKey):
        return value
    if isinstance(value, str):
        return AssetKey.from_user_string(value)
    return AssetKey(list(value))
