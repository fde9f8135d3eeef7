"""Every option of one workflow's assets, declared once: :class:`ExtendWorkflowConfig`.

The factory (:func:`extend_assets.build_extend_workflow_assets`) takes it, keyword
arguments build it, and the README's table of options is generated from it
(``python -m extend_assets.config`` prints the table; a test keeps the README in step).
A bad option fails at definition time with an :class:`ExtendAssetsConfigError` that
names the option and the fix.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Sequence
from datetime import date
from typing import Any, Literal

from dagster import (
    AssetKey,
    AutomationCondition,
    FreshnessPolicy,
    TimeWindowPartitionsDefinition,
)
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from extend_assets.client import MAX_METADATA_BYTES, REVIEW_POLICIES, ReviewPolicy
from extend_assets.errors import ExtendAssetsConfigError, ExtendAssetsError
from extend_assets.outputs.raw_store import RawLocationError, parse_raw_root
from extend_assets.submission.listing import PartitionSelector, Selection

# The column the IO manager partitions the tables on (a DATE in every table).
# ``overwrite_schema``: Delta Lake (dagster-deltalake) then writes a day whose frame has a
# new schema field (one more column) instead of failing "number of fields does not
# match"; the other IO managers ignore it.
PARTITION_EXPR = {"partition_expr": "partition_date", "overwrite_schema": True}

_ASSET_KEY_PART = re.compile(r"^[A-Za-z0-9_]+$")


def _bad(option: str, value: Any, problem: str, fix: str) -> ExtendAssetsConfigError:
    shown = "..." if option == "run_metadata" else repr(value)
    return ExtendAssetsConfigError(f"Extend workflow option {option}={shown}: {problem} {fix}")


class ExtendWorkflowConfig(BaseModel):
    """The options of one Extend workflow's assets, sensor, jobs and schedule."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    workflow_id: str = Field(description="The Extend workflow to run (`workflow_...`).")
    name: str = Field(
        default="extend",
        description="Asset key prefix and group name; several workflows fit in one location.",
    )
    bucket: str | None = Field(
        default=None, description="S3 bucket holding the documents (unless `raw_text_source`)."
    )
    prefix_template: str = Field(
        default="{date}/",
        description="S3 prefix of a partition; `{date}` is its YYYY-MM-DD (a fixed prefix "
        "with `selection='last_modified'`).",
    )
    selection: Selection = Field(
        default="prefix",
        description="`prefix`: a partition owns the objects under its prefix; "
        "`last_modified`: the objects whose LastModified falls on its day (UTC).",
    )
    partitions_def: TimeWindowPartitionsDefinition | None = Field(
        default=None,
        description="Partitions of every asset; default daily from `start_date` (Python only).",
    )
    start_date: str = Field(default="2025-01-01", description="First daily partition, YYYY-MM-DD.")
    workflow_version: str | None = Field(
        default=None, description="Workflow version to run (`3`, `draft`); default: latest."
    )
    priority: int | None = Field(
        default=None,
        description="1..100, lower runs first. Unset: batch POSTs of 1000 (Extend's batch "
        "priority, 90). Set: `POST /workflow_runs` in groups of 50 with this priority.",
    )
    presign_expiry_seconds: int = Field(
        default=1800,
        description="Lifetime of each presigned URL, 60..604800; runs may wait in a queue.",
    )
    run_metadata: dict[str, Any] = Field(
        default_factory=dict,
        description="Copied onto every run's metadata (10 KB at most with our own keys).",
    )
    usage_tags: tuple[str, ...] = Field(
        default=(), description="Extend usage tags for billing breakdowns."
    )
    raw_text_source: AssetKey | str | list[str] | None = Field(
        default=None,
        description="Upstream asset of texts to submit instead of S3 objects.",
    )
    raw_text_id_column: str = Field(
        default="id", description="Column of `raw_text_source` identifying a text."
    )
    raw_text_column: str = Field(
        default="text", description="Column of `raw_text_source` holding the text."
    )
    review_policy: ReviewPolicy = Field(
        default="wait",
        description="`wait`: a partition settles once its reviews are done; `settle`: now, "
        "and its tables are rebuilt after each review.",
    )
    failure_rate_threshold: float = Field(
        default=0.1, description="The failure_rate check warns above this fraction (0..1)."
    )
    low_confidence_threshold: float = Field(
        default=0.8, description="Fields below this confidence (0..1) are counted by a check."
    )
    tag_runs_on_extend: bool = Field(
        default=False, description="Write the Dagster run id into each Extend run's metadata."
    )
    submission_lock: str | None = Field(
        default=None,
        description="Where overlapping submissions take turns. Unset: the instance's own "
        "(PostgreSQL advisory locks, or flock files beside SQLite). `s3://BUCKET/PREFIX`: "
        "leases written with S3 conditional writes, for instances without PostgreSQL "
        "(Dagster+); uses the S3DocumentSource's credentials.",
    )
    reconcile_grace_seconds: float = Field(
        default=120.0,
        description="An unfinished submission whose runs Extend does not list yet is asked "
        "about again for this long after its intent before it is resent (runs may be created "
        "after the POST returns).",
    )
    submission_lock_timeout_seconds: float = Field(
        default=3600.0,
        description="How long a submission waits for another submission of the same "
        "partitions (they take turns) before it fails.",
    )
    fetch_workers: int = Field(
        default=16,
        description="Concurrent GETs when fetching runs, and batches listed at once by the "
        "runs step (1..64), within the rate limit.",
    )
    pool: str | None = Field(
        default="extend_api",
        description="Dagster pool of the steps that call Extend (limits concurrent runs).",
    )
    io_manager_key: str = Field(
        default="io_manager",
        description="IO manager of the analyst tables (documents, line items) and, unless "
        "`internal_io_manager_key`, of every table.",
    )
    internal_io_manager_key: str | None = Field(
        default=None,
        description="IO manager of the internal tables (listing, batches ledger, runs); "
        "unset: `io_manager_key`.",
    )
    single_partition_runs: bool | None = Field(
        default=None,
        description="One run per partition (backfills and sensor runs) for an IO manager that "
        "cannot store a range of partitions in one output. Unset: chosen from the bound IO "
        "manager's class by `to_definitions` (Delta Lake: on), else ranged runs.",
    )
    extend_resource_key: str = Field(default="extend", description="Key of the ExtendResource.")
    source_resource_key: str = Field(
        default="documents", description="Key of the S3DocumentSource."
    )
    sensor_interval_seconds: int = Field(
        default=30, description="Seconds between run-status sensor ticks (at least 1)."
    )
    sensor_tick_budget_seconds: float = Field(
        default=20.0, description="Time one sensor tick may spend calling Extend (0..55)."
    )
    stuck_after_seconds: float = Field(
        default=6 * 3600,
        description="Runs PENDING/PROCESSING longer than this are reported as stuck.",
    )
    cancel_stuck_runs: bool = Field(default=False, description="Cancel stuck runs too.")
    sensor_max_failed_ticks: int = Field(
        default=10,
        description="Ticks in a row Extend may fail to answer (5xx, 429, network) before "
        "the sensor tick fails (401/403 fail it at once), so sensor alerts fire.",
    )
    owners: tuple[str, ...] = Field(
        default=(), description="Owners of every asset (`team:data`, `jane@acme.com`)."
    )
    tags: dict[str, str] = Field(default_factory=dict, description="Tags on every asset.")
    automation_condition: AutomationCondition | None = Field(
        default=None,
        description="When Dagster submits a partition on its own (on the submission assets), "
        "e.g. `AutomationCondition.on_cron('0 6 * * *')`; the schedule does it otherwise.",
    )
    freshness_policy: FreshnessPolicy | None = Field(
        default=None,
        description="Freshness of the tables, e.g. `FreshnessPolicy.time_window(fail_window="
        "timedelta(hours=30))`.",
    )
    completion: Literal["polling", "webhooks"] = Field(
        default="polling",
        description="How settled runs are learnt: `polling` (no setup) or `webhooks` (events "
        "landed by `extend-assets webhooks` in `webhook_landing`; no GET per run).",
    )
    webhook_landing: str | None = Field(
        default=None,
        description="With `completion='webhooks'`: the receiver's landing zone, "
        "`s3://BUCKET/PREFIX` or a local directory.",
    )
    webhook_reconcile_after_seconds: float = Field(
        default=900.0,
        description="Webhooks: a group with no new event for this long is confirmed through "
        "the API (lost deliveries; cancelled runs send no event on 2025-04-21).",
    )
    webhook_settle_seconds: float = Field(
        default=120.0,
        description="Webhooks: landed events younger than this are read on a later tick "
        "(an event still being written is never skipped).",
    )
    raw_runs_dir: str | None = Field(
        default=None,
        description="Where the raw WorkflowRun JSON (gzip JSONL) is streamed: `s3://BUCKET/PREFIX` "
        "(through the `source_resource_key` resource's S3 client; for steps in separate "
        "containers) or a local directory; default beside the DuckDB file, else under "
        "DAGSTER_HOME.",
    )
    runs_chunk_size: int = Field(
        default=250,
        description="Runs fetched, written and flattened per chunk (memory is bounded by it).",
    )
    raw_runs_keep: int = Field(
        default=2,
        description="Raw-run directories kept per partition: this Dagster run's and the one "
        "before it (still being read by a slower run); older ones are deleted.",
    )
    raw_runs_max_age_days: float | None = Field(
        default=None,
        description="Raw-run directories (every partition) older than this many days are "
        "deleted by the runs step; the tables fetch a deleted file's runs again. Unset: "
        "kept (or use an S3 lifecycle rule).",
    )

    # -- validators: each message names the option and the fix ----------------------------

    @field_validator("workflow_id")
    @classmethod
    def _workflow_id(cls, value: str) -> str:
        if not value.strip():
            raise _bad("workflow_id", value, "is empty.", "Pass your Extend workflow's id.")
        return value.strip()

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _ASSET_KEY_PART.match(value):
            raise _bad("name", value, "is not a valid asset key part.", "Use letters, digits, _.")
        return value

    @field_validator("start_date")
    @classmethod
    def _start_date(cls, value: str) -> str:
        try:
            date.fromisoformat(value)
        except ValueError:
            raise _bad("start_date", value, "is not a date.", "Use YYYY-MM-DD.") from None
        return value

    @field_validator("priority")
    @classmethod
    def _priority(cls, value: int | None) -> int | None:
        if value is not None and not 1 <= value <= 100:
            raise _bad(
                "priority",
                value,
                "is outside 1..100.",
                "Lower runs first; leave it unset to send batches at Extend's batch priority, 90.",
            )
        return value

    @field_validator("presign_expiry_seconds")
    @classmethod
    def _expiry(cls, value: int) -> int:
        if not 60 <= value <= 7 * 24 * 3600:
            raise _bad(
                "presign_expiry_seconds",
                value,
                "is outside 60..604800.",
                "Extend suggests about 1800 s for batches, which may wait in a queue.",
            )
        return value

    @field_validator("run_metadata")
    @classmethod
    def _run_metadata(cls, value: dict[str, Any]) -> dict[str, Any]:
        try:
            size = len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())
        except (TypeError, ValueError):
            raise _bad(
                "run_metadata", value, "is not JSON.", "Use strings, numbers, lists and dicts."
            ) from None
        if size > MAX_METADATA_BYTES:
            raise _bad(
                "run_metadata",
                value,
                f"is {size} bytes; Extend accepts at most {MAX_METADATA_BYTES} per run.",
                f"Keep it well under {MAX_METADATA_BYTES} bytes (our own keys are added to it).",
            )
        return value

    @field_validator("review_policy", mode="before")
    @classmethod
    def _review_policy(cls, value: Any) -> Any:
        if value not in REVIEW_POLICIES:
            raise _bad("review_policy", value, "is unknown.", "Use 'wait' or 'settle'.")
        return value

    @field_validator("failure_rate_threshold", "low_confidence_threshold")
    @classmethod
    def _fraction(cls, value: float, info: Any) -> float:
        if not 0.0 <= value <= 1.0:
            raise _bad(info.field_name, value, "is outside 0..1.", "Use a fraction such as 0.1.")
        return value

    @field_validator("submission_lock")
    @classmethod
    def _lock(cls, value: str | None) -> str | None:
        if value is not None and not (value.startswith("s3://") and len(value) > len("s3://")):
            raise _bad("submission_lock", value, "is not an s3:// URI.",
                       "Use s3://BUCKET/PREFIX, or leave it unset for the instance's own lock.")  # fmt: skip
        return value

    @field_validator("reconcile_grace_seconds", "submission_lock_timeout_seconds")
    @classmethod
    def _seconds(cls, value: float, info: ValidationInfo) -> float:
        if value < 0:
            raise _bad(str(info.field_name), value, "is negative.", "Use 0 or more seconds.")
        return value

    @field_validator("fetch_workers")
    @classmethod
    def _fetch_workers(cls, value: int) -> int:
        if not 1 <= value <= 64:
            raise _bad(
                "fetch_workers", value, "is outside 1..64.", "The rate limit bounds speed anyway."
            )
        return value

    @field_validator("sensor_interval_seconds")
    @classmethod
    def _interval(cls, value: int) -> int:
        if value < 1:
            raise _bad("sensor_interval_seconds", value, "is below 1.", "30 is a good value.")
        return value

    @field_validator("sensor_max_failed_ticks")
    @classmethod
    def _max_failed_ticks(cls, value: int) -> int:
        if value < 1:
            raise _bad("sensor_max_failed_ticks", value, "is below 1.", "10 is a good value.")
        return value

    @field_validator("sensor_tick_budget_seconds")
    @classmethod
    def _tick_budget(cls, value: float) -> float:
        if not 0 < value < 55:
            raise _bad(
                "sensor_tick_budget_seconds",
                value,
                "must stay well under Dagster's 60 s sensor timeout.",
                "20 is a good value.",
            )
        return value

    @field_validator("stuck_after_seconds")
    @classmethod
    def _stuck_after(cls, value: float) -> float:
        if value <= 0:
            raise _bad("stuck_after_seconds", value, "must be positive.", "6 hours is the default.")
        return value

    @field_validator("runs_chunk_size")
    @classmethod
    def _chunk(cls, value: int) -> int:
        if not 1 <= value <= 100_000:
            raise _bad("runs_chunk_size", value, "is outside 1..100000.", "250 is a good value.")
        return value

    @field_validator("raw_runs_keep")
    @classmethod
    def _keep(cls, value: int) -> int:
        if value < 1:
            raise _bad("raw_runs_keep", value, "is below 1: this run's own files are needed.",
                       "Keep 2 (the default) or more.")  # fmt: skip
        return value

    @field_validator("raw_runs_dir")
    @classmethod
    def _raw_runs_dir(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            parse_raw_root(value)
        except RawLocationError as problem:
            raise _bad(
                "raw_runs_dir",
                value,
                str(problem),
                "Use s3://BUCKET/PREFIX (written with the S3DocumentSource's client, shared "
                "by every step) or a local directory such as /data/extend_raw_runs.",
            ) from None
        return value

    @field_validator("raw_runs_max_age_days")
    @classmethod
    def _max_age(cls, value: float | None) -> float | None:
        if value is not None and not value > 0:
            raise _bad(
                "raw_runs_max_age_days",
                value,
                "is not positive.",
                "Use a number of days such as 30, or leave it unset to keep raw runs.",
            )
        return value

    @field_validator("webhook_reconcile_after_seconds", "webhook_settle_seconds")
    @classmethod
    def _non_negative(cls, value: float, info: Any) -> float:
        if value < 0:
            raise _bad(info.field_name, value, "is negative.", "Use seconds, e.g. 900.")
        return value

    def model_post_init(self, context: Any) -> None:
        if self.completion == "webhooks" and not self.webhook_landing:
            raise _bad(
                "webhook_landing",
                self.webhook_landing,
                "is missing while completion='webhooks'.",
                "Pass the receiver's --landing (s3://BUCKET/PREFIX or a directory), or use "
                "completion='polling'.",
            )
        if self.raw_text_source is None:
            if not self.bucket:
                raise _bad(
                    "bucket",
                    self.bucket,
                    "is missing.",
                    "Name the S3 bucket holding the documents (EXTEND_S3_BUCKET), or set "
                    "raw_text_source.",
                )
            # Checks the template against the selection (PartitionSelectionError).
            PartitionSelector(self.prefix_template, self.selection)

    # -- derived ----------------------------------------------------------------------------

    @classmethod
    def build(cls, **options: Any) -> ExtendWorkflowConfig:
        """Validate ``options``; a problem raises :class:`ExtendAssetsConfigError`, not pydantic's."""
        try:
            return cls(**options)
        except ValidationError as error:
            raise _config_error(error) from None

    @property
    def selector(self) -> PartitionSelector | None:
        if self.raw_text_source is not None:
            return None
        return PartitionSelector(self.prefix_template, self.selection)

    @property
    def internal_io_manager(self) -> str:
        """The IO manager key of the internal tables (listing, batches ledger, runs)."""
        return self.internal_io_manager_key or self.io_manager_key

    @property
    def raw_text_source_key(self) -> AssetKey | None:
        return None if self.raw_text_source is None else as_asset_key(self.raw_text_source)

    @property
    def raw_text_source_name(self) -> str | None:
        key = self.raw_text_source_key
        return None if key is None else key.to_user_string()


def _config_error(error: ValidationError) -> ExtendAssetsError:
    """Our own error when a validator raised one; else pydantic's first problem, reworded."""
    first = error.errors()[0]
    original = (first.get("ctx") or {}).get("error")
    if isinstance(original, ExtendAssetsError):
        return original
    option = ".".join(str(part) for part in first.get("loc", ())) or "?"
    if first.get("type") == "extra_forbidden":
        known = ", ".join(ExtendWorkflowConfig.model_fields)
        return ExtendAssetsConfigError(
            f"Extend workflow option {option!r} is unknown. Known options: {known}."
        )
    field = ExtendWorkflowConfig.model_fields.get(option)
    hint = f" ({field.description})" if field is not None and field.description else ""
    return ExtendAssetsConfigError(
        f"Extend workflow option {option}={first.get('input')!r}: {first.get('msg')}.{hint}"
    )


def as_asset_key(value: AssetKey | str | Sequence[str]) -> AssetKey:
    if isinstance(value, AssetKey):
        return value
    if isinstance(value, str):
        return AssetKey.from_user_string(value)
    return AssetKey(list(value))


def options_table() -> str:
    """The Markdown table of every option, for the README (between its ``options`` markers)."""
    rows = ["| option | type | default | what it does |", "|---|---|---|---|"]
    for option, field in ExtendWorkflowConfig.model_fields.items():
        annotation = re.sub(r"<class '([\w.]+)'>", r"\1", str(field.annotation))
        annotation = re.sub(r"\w+(?:\.\w+)+", lambda m: m.group(0).rsplit(".", 1)[-1], annotation)
        annotation = annotation.replace("NoneType", "None").replace("|", "\\|")
        if field.is_required():
            default = "required"
        elif field.default_factory is not None:
            default = f"`{field.default_factory()!r}`"  # type: ignore[call-arg]
        else:
            default = f"`{field.default!r}`"
        rows.append(f"| `{option}` | `{annotation}` | {default} | {field.description or ''} |")
    return "\n".join(rows)


if __name__ == "__main__":
    sys.stdout.write(options_table() + "\n")
