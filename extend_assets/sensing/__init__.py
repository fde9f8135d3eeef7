"""Run-status sensing: know when every Extend run of a submission settled, cheaply.

No Dagster here: :mod:`extend_assets.sensor_builder` is the Dagster shell around it.

Design
------
*Groups.* The submission asset records, on each materialization, what one Dagster
run submitted: batch ids, run ids created one by one, its partitions, the number
of documents and the time just before the first POST. One Dagster run is one
*group*; the sensor requests the downstream target for a group's partitions (one
ranged run when they are contiguous) once every run of the group is settled
(PROCESSED, FAILED, REJECTED, CANCELLED, and NEEDS_REVIEW with ``review_policy
="settle"``). Batches may cross partitions, so the group, not the partition, is
the unit that settles.

*Incremental scan.* Each tick lists the workflow's runs sorted by ``updatedAt``
descending, 1000 per page, and stops at the first run at or below the previous
tick's watermark: ``ceil(changed / 1000) + 1`` list calls at most, whatever the
number of open runs. Sightings are matched to open groups by batch id (or run id
for runs created one by one). The watermark is a *server* timestamp (the newest
``updatedAt`` seen when the scan began), never the sensor's clock; the scan reads
``overlap_seconds`` below it to catch late commits and equal timestamps, and the
``id@updatedAt`` keys seen in that overlap are remembered so the next scan does
not count them twice. A new group starts counting from ``submitted_at`` minus a
margin (clock skew between submitter and Extend). New groups join only between
scans, so each scan counts a fixed set of groups. A scan that runs out of budget
keeps its page token and bounds in the cursor and continues next tick.

*Counting without per-run state.* Keeping each run's last status would make the
cursor grow with open runs (100k runs ≈ megabytes). Instead each group keeps
counters of sightings by status. A run is sighted once per change, so terminal
sightings estimate settled runs; the estimate can only run *high* (a reviewed
NEEDS_REVIEW run, a metadata update of a settled run), never low for runs that
changed after the group's start. So the estimate only decides *when to check*;
closing a group takes an exact *confirmation*: status by status, in the order
PENDING, PROCESSING, CANCELLING (, NEEDS_REVIEW when waiting), no run may be left
in it. A group whose estimate says "settled" first asks the workflow as a whole
(``GET /workflow_runs?workflowId=&status=&maxPageSize=1``): an empty answer clears
that status for every group at once, so closing any number of groups usually costs
one call per status. A status some run of the workflow is still in is checked
batch by batch (``batchId=&status=``). Runs only move forward through those
statuses, so a (status, batch) pair found empty stays empty: the confirmation
position is saved and a retry resumes at the pair that blocked, so confirming a
group costs at most ``batches * statuses`` calls over its whole life. A status is
only taken as empty from an answer given after the group's previous statuses were
found empty (a run PENDING before then may be PROCESSING now). Runs created one by one are few and tracked exactly by id (an id leaves the
cursor when seen settled). A safety net confirms every open group at least every
``safety_confirm_seconds`` whatever its counters say.

*Per-batch fallback.* When the workflow is busy with runs that are not ours (the
change rate seen by past scans predicts a costly scan) and the open groups are
few, the tick skips the scan and advances the confirmations directly (about one
call per open group per tick); the watermark stays put and the next scan
catches up.

*Reviews.* Settled groups are kept (bounded, for two weeks) with their batches.
With ``"settle"``, a later sighting of one of their runs with ``reviewedAt`` set
and a non-review status re-requests the partitions of that batch (from the
ledger's per-partition batch lists, else the group's) under a new run key. A
reviewed run of a group no longer held is looked up once (GET) and its metadata
names its partition.

*Idempotence.* Run keys hash the group id, its re-request counter and the
partitions, and the cursor is only advanced by completed steps, so a tick
repeated from the same cursor (after a crash) asks for the same run keys, which
Dagster deduplicates. API errors stop the tick and keep the progress made so far.

*Stuck runs.* Every ``stuck_check_seconds``, for groups older than
``stuck_after_seconds``, runs PENDING/PROCESSING with ``updatedAt`` older than that
are listed oldest first (a page or two), reported in the log and in the
observations, and cancelled only with ``cancel_stuck=True``.
"""

from extend_assets.sensing.cursor import CURSOR_VERSION, SensorCursor
from extend_assets.sensing.model import (
    PartitionRequest,
    PollerSettings,
    Progress,
    SubmittedGroup,
    TickReport,
)
from extend_assets.sensing.poller import RunStatusPoller

__all__ = [
    "CURSOR_VERSION",
    "PartitionRequest",
    "PollerSettings",
    "Progress",
    "RunStatusPoller",
    "SensorCursor",
    "SubmittedGroup",
    "TickReport",
]
