"""Which S3 objects belong to a partition, as a table of document versions."""

from __future__ import annotations

import string
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import pandas as pd

from extend_assets.errors import PartitionSelectionError
from extend_assets.flatten.coerce import TEXT
from extend_assets.submission.s3 import SourceObject, list_objects, skip_reason

Selection = Literal["prefix", "last_modified"]

SOURCE_COLUMNS = [
    "partition",
    "partition_date",
    "bucket",
    "key",
    "etag",
    "size",
    "last_modified",
    "file_name",
    "extension",
    "skip_reason",
]


@dataclass(frozen=True)
class PartitionSelector:
    """Maps a daily partition key (YYYY-MM-DD) to the objects it owns.

    ``prefix``: objects under ``prefix_template.format(date=partition_key)``.
    ``last_modified``: objects under the fixed ``prefix_template`` whose LastModified
    falls on that day (UTC).
    """

    prefix_template: str
    selection: Selection = "prefix"

    def __post_init__(self) -> None:
        fields = {name for _, name, _, _ in string.Formatter().parse(self.prefix_template) if name}
        if self.selection == "prefix":
            if "date" not in fields:
                raise PartitionSelectionError(
                    f"prefix_template '{self.prefix_template}' has no {{date}} placeholder, so every "
                    "partition would list the same objects. Use e.g. 'invoices/{date}/', or set "
                    "selection='last_modified' to pick objects by their LastModified day."
                )
        elif self.selection == "last_modified":
            if fields:
                raise PartitionSelectionError(
                    f"prefix_template '{self.prefix_template}' has placeholders {sorted(fields)}, "
                    "but selection='last_modified' lists one fixed prefix. Remove the placeholders."
                )
        else:
            raise PartitionSelectionError(
                f"selection must be 'prefix' or 'last_modified', not {self.selection!r}."
            )
        unknown = fields - {"date"}
        if unknown:
            raise PartitionSelectionError(
                f"prefix_template '{self.prefix_template}' uses unknown placeholders "
                f"{sorted(unknown)}; only {{date}} (the partition's YYYY-MM-DD) is available."
            )

    def prefix_for(self, partition_key: str) -> str:
        if self.selection == "prefix":
            return self.prefix_template.format(date=partition_key)
        return self.prefix_template

    def owns(self, obj: SourceObject, partition_key: str) -> bool:
        if self.selection == "prefix":
            return True
        modified = (
            obj.last_modified.astimezone(UTC) if obj.last_modified.tzinfo else obj.last_modified
        )
        return modified.strftime("%Y-%m-%d") == partition_key


def list_partitions(
    s3_client: Any,
    bucket: str,
    selector: PartitionSelector,
    partition_keys: Sequence[str],
) -> pd.DataFrame:
    """One row per object of each partition, with the reason it is skipped (if it is)."""
    rows: list[dict[str, Any]] = []
    listed_prefixes: dict[str, list[SourceObject]] = {}
    for partition_key in partition_keys:
        prefix = selector.prefix_for(partition_key)
        if prefix not in listed_prefixes:
            listed_prefixes[prefix] = list(list_objects(s3_client, bucket, prefix))
        for obj in listed_prefixes[prefix]:
            if selector.owns(obj, partition_key):
                rows.append(source_row(obj, partition_key))
    return source_frame(rows)


def source_row(obj: SourceObject, partition_key: str) -> dict[str, Any]:
    return {
        "partition": partition_key,
        "partition_date": datetime.strptime(partition_key, "%Y-%m-%d"),
        "bucket": obj.bucket,
        "key": obj.key,
        "etag": obj.etag,
        "size": obj.size,
        "last_modified": obj.last_modified,
        "file_name": obj.file_name,
        "extension": obj.extension,
        "skip_reason": skip_reason(obj),
    }


def source_frame(rows: Iterable[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame(list(rows), columns=SOURCE_COLUMNS)
    frame["partition_date"] = pd.to_datetime(frame["partition_date"])
    frame["size"] = frame["size"].astype("int64")
    frame["last_modified"] = pd.to_datetime(frame["last_modified"], utc=True)
    for column in ("partition", "bucket", "key", "etag", "file_name", "extension", "skip_reason"):
        frame[column] = frame[column].astype(TEXT)
    return frame


def skipped_by_reason(frame: pd.DataFrame) -> dict[str, int]:
    reasons = frame["skip_reason"].dropna()
    return dict(sorted(Counter(str(reason) for reason in reasons).items()))
