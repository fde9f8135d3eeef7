"""The run-status sensor: the Dagster shell around :class:`~extend_assets.sensing.RunStatusPoller`.

It reads new groups from the submission ledger (materializations of the batches
asset), runs one poller tick within the time budget, and turns the outcome into
run requests, progress observations, a log line and the next cursor.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

from dagster import (
    AssetKey,
    DefaultSensorStatus,
    PartitionsDefinition,
    RunRequest,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    sensor,
)
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

from extend_assets.client import (
    REVIEW_POLICIES,
    ExtendForbiddenError,
    ExtendUnauthorizedError,
    ReviewPolicy,
)
from extend_assets.errors import ExtendAssetsConfigError, ExtendSensorError
from extend_assets.event_log import progress_observations, read_submitted_groups
from extend_assets.resources import ExtendResource
from extend_assets.sensing import (
    PartitionRequest,
    PollerSettings,
    RunStatusPoller,
    SensorCursor,
    TickReport,
)
from extend_assets.sensing.events import EventSettler
from extend_assets.webhooks import WebhookError, open_landing_zone


def build_extend_run_status_sensor(
    *,
    name: str,
    workflow_id: str,
    batches_asset_key: AssetKey,
    target: Any,
    extend_resource_key: str = "extend",
    review_policy: ReviewPolicy = "wait",
    minimum_interval_seconds: int = 30,
    tick_budget_seconds: float = 20.0,
    stuck_after_seconds: float = 6 * 3600,
    cancel_stuck: bool = False,
    max_failed_ticks: int = 10,
    default_status: DefaultSensorStatus = DefaultSensorStatus.RUNNING,
    clock: Callable[[], float] = time.time,
    partitions_def: PartitionsDefinition | None = None,
    completion: str = "polling",
    webhook_landing: str | None = None,
    reconcile_after_seconds: float = 900.0,
    event_settle_seconds: float = 120.0,
    ranged_runs: bool = True,
) -> SensorDefinition:
    """A sensor that requests ``target`` for a group's partitions once all its runs settled.

    ``partitions_def`` (optional) lets a group of contiguous partitions go out as one
    ranged run; without it the sensor looks it up on ``batches_asset_key`` in the code
    location, and falls back to one run per partition. ``ranged_runs=False`` always asks
    one run per partition (for an IO manager that stores one partition per output).

    ``completion="webhooks"`` reads the events ``extend-assets webhooks`` landed in
    ``webhook_landing`` instead of listing runs, and confirms through the API only the
    groups that heard nothing for ``reconcile_after_seconds`` (see
    :mod:`extend_assets.sensing.events`).
    """
    # Long: most of it is the signature and the closure Dagster needs; a tick's work is
    # in make_poller / tick_result / log_attention.
    _check_options(review_policy, tick_budget_seconds)
    _check_completion(completion, webhook_landing)
    landing = webhook_landing if completion == "webhooks" else None
    settings = PollerSettings(
        workflow_id=workflow_id,
        review_policy=review_policy,
        tick_budget_seconds=tick_budget_seconds,
        stuck_after_seconds=stuck_after_seconds,
        cancel_stuck=cancel_stuck,
        reconcile_after_seconds=reconcile_after_seconds,
        event_settle_seconds=event_settle_seconds,
    )

    @sensor(
        name=name,
        target=target,
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=default_status,
        required_resource_keys={extend_resource_key},
        description=f"Requests the output assets of Extend workflow {workflow_id} for each "
        "group of partitions whose runs all settled; reports progress on the batches asset.",
    )
    def _run_status_sensor(context: SensorEvaluationContext) -> SensorResult:
        cursor = SensorCursor.from_json(context.cursor, policy=review_policy)
        resource = getattr(context.resources, extend_resource_key)
        with sensor_client(resource, tick_budget_seconds) as client:
            poller = make_poller(client, cursor, settings, clock, landing)
            if isinstance(poller, str):  # the landing zone is not usable now
                return SensorResult(cursor=cursor.to_json(), skip_reason=poller)
            if poller.accepts_submissions:
                groups, last_id = read_submitted_groups(
                    context.instance, batches_asset_key, cursor.last_storage_id
                )
                poller.add_submissions(groups)
                cursor.last_storage_id = last_id
            report = poller.tick()
        context.log.info(f"Extend run status: {report.summary(cursor)}")
        fail_on_api_error(report, cursor, max_failed_ticks)
        waiting = log_attention(context, report, settings, _base_url(resource))
        pdef = (
            (partitions_def or _partitions_def_of(context, batches_asset_key))
            if ranged_runs
            else None
        )
        result = tick_result(report, cursor, batches_asset_key, pdef, max_failed_ticks)
        if waiting and not result.run_requests and result.skip_reason is None:
            # The UI's tick list shows this beside the skipped tick.
            result = SensorResult(
                cursor=result.cursor, asset_events=events_of(result), skip_reason=waiting
            )
        return result

    return _run_status_sensor


def _check_completion(completion: str, webhook_landing: str | None) -> None:
    if completion not in ("polling", "webhooks"):
        raise ExtendAssetsConfigError(
            f"build_extend_run_status_sensor(completion={completion!r}): use 'polling' or "
            "'webhooks'."
        )
    if completion == "webhooks" and not webhook_landing:
        raise ExtendAssetsConfigError(
            "build_extend_run_status_sensor(completion='webhooks'): pass webhook_landing, the "
            "receiver's landing zone (s3://BUCKET/PREFIX or a directory)."
        )


def make_poller(
    client: Any,
    cursor: SensorCursor,
    settings: PollerSettings,
    clock: Callable[[], float],
    webhook_landing: str | None,
) -> RunStatusPoller | str:
    """The poller of one tick: listing runs, or reading landed events (webhook completion);
    a skip reason when the landing zone cannot be opened now."""
    if not webhook_landing:
        return RunStatusPoller(client, cursor, settings, clock)
    try:
        zone = open_landing_zone(webhook_landing)
    except (WebhookError, ValueError) as error:
        return f"Landing zone {webhook_landing} is not usable ({error}); the next tick tries again."
    return EventSettler(client, cursor, settings, clock, zone)


def _check_options(review_policy: str, tick_budget_seconds: float) -> None:
    if review_policy not in REVIEW_POLICIES:
        raise ExtendAssetsConfigError(
            f"build_extend_run_status_sensor(review_policy={review_policy!r}): use 'wait' "
            "(request once reviews are done) or 'settle' (request now, again after review)."
        )
    if not 0 < tick_budget_seconds < 55:
        raise ExtendAssetsConfigError(
            f"build_extend_run_status_sensor(tick_budget_seconds={tick_budget_seconds}): "
            "must stay well under Dagster's 60 s sensor timeout; 20 is a good value."
        )


def log_attention(
    context: SensorEvaluationContext,
    report: TickReport,
    settings: PollerSettings,
    base_url: str | None,
) -> str | None:
    """Warnings a person should act on: runs waited for, runs stuck; the first returned."""
    waiting = None
    if report.waiting:
        waiting = waiting_message(report, settings.review_policy, base_url)
        context.log.warning(waiting)
    if report.stuck_runs:
        action = "cancelled" if settings.cancel_stuck else "left alone (cancel_stuck=False)"
        context.log.warning(
            f"{len(report.stuck_runs)} run(s) pending or processing for more than "
            f"{settings.stuck_after_seconds:.0f} s, {action}: {', '.join(report.stuck_runs[:20])}"
        )
    return waiting


def events_of(result: SensorResult) -> list[Any]:
    return list(result.asset_events or [])


def tick_result(
    report: TickReport,
    cursor: SensorCursor,
    batches_asset_key: AssetKey,
    partitions_def: PartitionsDefinition | None,
    max_failed_ticks: int,
) -> SensorResult:
    """Run requests, progress observations and the next cursor; a skip after an error."""
    run_requests = [r for req in report.requests for r in to_run_requests(req, partitions_def)]
    events = [
        obs
        for progress in report.progress
        for obs in progress_observations(batches_asset_key, progress)
    ]
    # Even after an error the cursor holds only completed steps: keep them.
    new_cursor = cursor.to_json()
    if report.error and not run_requests:
        return SensorResult(
            cursor=new_cursor,
            asset_events=events,
            skip_reason=f"Extend did not answer ({report.error}); progress is kept in the "
            f"cursor and the next tick continues ({cursor.failed_ticks} tick(s) in a row; "
            f"the tick fails after {max_failed_ticks}).",
        )
    return SensorResult(run_requests=run_requests, cursor=new_cursor, asset_events=events)


def fail_on_api_error(report: TickReport, cursor: SensorCursor, max_failed_ticks: int) -> None:
    """Auth errors fail the tick at once; transient ones after ``max_failed_ticks`` in a row.

    The count lives in the cursor (reset by a tick Extend answered). A failed tick keeps
    the stored cursor, so the count stays just under the limit and every further
    failing tick fails too, until Extend answers again.
    """
    error = report.exception
    if error is None:
        cursor.failed_ticks = 0
        return
    if isinstance(error, ExtendUnauthorizedError | ExtendForbiddenError):
        raise ExtendSensorError(
            f"Extend refused the sensor's credentials ({report.error}). Fix EXTEND_API_KEY "
            "(or the resource's api_key / workspace_id); the sensor resumes from its cursor."
        )
    cursor.failed_ticks += 1
    if cursor.failed_ticks >= max_failed_ticks:
        raise ExtendSensorError(
            f"Extend did not answer {cursor.failed_ticks} sensor ticks in a row (last: "
            f"{report.error}). Check EXTEND_BASE_URL, the network and status.extend.ai; "
            "progress is kept and the sensor resumes once Extend answers."
        )


def waiting_message(report: TickReport, review_policy: str, base_url: str | None) -> str:
    """Which runs keep the open groups from settling, for how long, and what to do."""
    lines = [f"Waiting for {len(report.waiting)} run(s) (oldest first):"]
    for run in report.waiting:
        lines.append(
            f"  {run.id} {run.status} for {_duration(run.waiting_seconds)} (batch {run.batch_id})"
        )
    if any(run.status == "NEEDS_REVIEW" for run in report.waiting):
        review = "Review them in Extend's dashboard"
        if base_url and _is_loopback(base_url):
            ids = " ".join(run.id for run in report.waiting if run.status == "NEEDS_REVIEW")
            review = (
                f"They are on the local emulator: extend-assets review approve {ids} "
                f"--base-url {base_url}"
            )
        lines.append(
            f"{review}; or set review_policy='settle' (EXTEND_REVIEW_POLICY=settle) to build "
            "the tables without waiting for reviews (a later review rebuilds them)."
        )
    else:
        lines.append("Extend is still processing them; runs stuck for long are reported apart.")
    return "\n".join(lines)


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    return host in ("localhost", "::1") or host.startswith("127.")


def _base_url(resource: Any) -> str | None:
    return resource.resolved_base_url if isinstance(resource, ExtendResource) else None


def sensor_client(resource: Any, budget_seconds: float) -> Any:
    """A client whose single call cannot outlast the tick: short timeout, one retry, and
    its own small share of the account's rate (``sensor_rate_share``).

    A step can afford long backoffs on 429 or 5xx; a sensor tick cannot, and it loses
    nothing by stopping (the next tick continues from the cursor).
    """
    if not isinstance(resource, ExtendResource):
        return resource.get_client()  # a stand-in (tests) or a subclass that knows best
    return resource.get_client(
        timeout=max(1.0, budget_seconds / 2),
        max_retries=1,
        rate_share=resource.sensor_rate_share,
    )


def to_run_requests(
    request: PartitionRequest, partitions_def: PartitionsDefinition | None
) -> list[RunRequest]:
    """One ranged run when the partitions are contiguous, else one run per partition."""
    tags = {"extend/reason": request.reason[:200]}
    parts = list(request.partitions)
    if len(parts) == 1:
        return [RunRequest(run_key=request.run_key, partition_key=parts[0], tags=tags)]
    ordered = _contiguous(parts, partitions_def)
    if ordered is not None:
        range_tags = {
            ASSET_PARTITION_RANGE_START_TAG: ordered[0],
            ASSET_PARTITION_RANGE_END_TAG: ordered[-1],
        }
        return [RunRequest(run_key=request.run_key, tags={**tags, **range_tags})]
    return [
        RunRequest(run_key=f"{request.run_key}-{part}", partition_key=part, tags=tags)
        for part in sorted(parts)
    ]


def _contiguous(parts: Sequence[str], pdef: PartitionsDefinition | None) -> list[str] | None:
    if pdef is None:
        return None
    try:
        keys = list(pdef.get_partition_keys())
    except Exception:  # dynamic partitions need an instance; fall back to one run each
        return None
    position = {key: i for i, key in enumerate(keys)}
    if any(p not in position for p in parts):
        return None
    ordered = sorted(set(parts), key=position.__getitem__)
    if position[ordered[-1]] - position[ordered[0]] + 1 != len(ordered):
        return None
    return ordered


def _partitions_def_of(
    context: SensorEvaluationContext, asset_key: AssetKey
) -> PartitionsDefinition | None:
    try:
        repository = context.repository_def
        if repository is None:
            return None
        return repository.asset_graph.get(asset_key).partitions_def
    except Exception:  # not in a code location (a unit test) or an unknown key
        return None
