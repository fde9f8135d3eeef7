"""The emulator's state and rules, apart from HTTP: runs, batches, listing, review.

Thread-safe behind one lock. Optionally written through to SQLite so a restarted
emulator (``--state``) keeps every run, and runs left PENDING or PROCESSING resume.
The runs live in this process's memory, so one emulator process owns a state file
(an OS lock enforces it); other processes share the emulator through its URL.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import hashlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from extend_assets.emulator import wire
from extend_assets.emulator.config import Workflow
from extend_assets.emulator.records import new_run_record, submission_record

OPEN_STATUSES = frozenset({"PENDING", "PROCESSING", "CANCELLING"})
STATUSES = ("PENDING", "PROCESSING", "NEEDS_REVIEW", "REJECTED", "PROCESSED", "FAILED",
            "CANCELLED", "CANCELLING")  # fmt: skip
EVENTS = {"PROCESSED": "workflow_run.completed", "FAILED": "workflow_run.failed",
          "NEEDS_REVIEW": "workflow_run.needs_review", "REJECTED": "workflow_run.rejected",
          "CANCELLED": "workflow_run.cancelled"}  # fmt: skip
CANCEL_DELAY_SECONDS = 0.05
StatusListener = Callable[[dict[str, Any], str], None]


class StateFileInUseError(RuntimeError):
    """Another emulator process already owns this ``--state`` file."""


def _lock_state_file(path: Path) -> IO[str]:
    """Hold an exclusive OS lock beside the state file for as long as it is open."""
    handle = open(path.with_name(path.name + ".lock"), "a+")  # noqa: SIM115 (held until close)
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks here; one process per file by convention
        return handle
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        owner = handle.read().strip() or "unknown"
        handle.close()
        raise StateFileInUseError(
            f"The emulator state file {path} is in use by another emulator ({owner}). Point "
            "every process at that emulator's URL (they share it over HTTP), or give this one "
            "its own --state file."
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"pid {os.getpid()}\n")
    handle.flush()
    return handle


class ApiError(Exception):
    """An answer other than 200: the status, the message and (2026) a code."""

    def __init__(self, status: int, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code


class Backend:
    def __init__(
        self,
        workflows: Mapping[str, Workflow],
        state_path: str | Path | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.workflows = dict(workflows)
        self._clock = clock
        self._lock = threading.RLock()
        self.changed = threading.Condition(self._lock)
        self._runs: dict[str, dict[str, Any]] = {}
        self._by_batch: dict[str, list[str]] = {}
        self._submissions: list[dict[str, Any]] = []
        self._seq = 0
        self._last_stamp = 0.0
        self._listeners: list[StatusListener] = []
        self._db: sqlite3.Connection | None = None
        self._state_lock: IO[str] | None = None
        if state_path is not None:
            self._open(Path(state_path))

    # -- persistence ------------------------------------------------------------------

    def _open(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._state_lock = _lock_state_file(path)
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("pragma journal_mode=wal")
        self._db.execute("pragma synchronous=normal")
        self._db.execute("create table if not exists runs (id text primary key, body text)")
        self._db.execute(
            "create table if not exists submissions (seq integer primary key, body text)"
        )
        for (body,) in self._db.execute("select body from runs"):
            run = json.loads(body)
            self._runs[run["id"]] = run
            if run["batchId"]:
                self._by_batch.setdefault(run["batchId"], []).append(run["id"])
            if run["status"] == "CANCELLING":  # the process stopped while winding down
                run["status"] = "CANCELLED"
            self._seq = max(self._seq, int(run["seq"]))
            self._last_stamp = max(self._last_stamp, float(run["updatedAt"]))
        self._submissions = [
            json.loads(body)
            for (body,) in self._db.execute("select body from submissions order by seq")
        ]
        for ids in self._by_batch.values():
            ids.sort(key=lambda i: self._runs[i]["seq"])

    def _save(self, *runs: dict[str, Any]) -> None:
        if self._db is not None:
            self._db.executemany(
                "insert or replace into runs (id, body) values (?, ?)",
                [(run["id"], json.dumps(run)) for run in runs],
            )

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None
            if self._state_lock is not None:
                with contextlib.suppress(OSError):
                    self._state_lock.close()  # closing releases the flock
                self._state_lock = None

    # -- time and listeners -----------------------------------------------------------

    def stamp(self) -> float:
        """Now, but strictly after the last stamp (1 ms apart): updatedAt never ties."""
        with self._lock:
            now = max(self._clock(), self._last_stamp + 0.001)
            self._last_stamp = now
            return now

    def add_listener(self, listener: StatusListener) -> None:
        self._listeners.append(listener)

    def _notify(self, run: dict[str, Any]) -> None:
        """Tell listeners (webhooks) a run settled; they get a copy of the stored
        record and render it in the version they speak."""
        event = EVENTS.get(run["status"])
        if event:
            for listener in self._listeners:
                listener(copy.deepcopy(run), event)
        self.changed.notify_all()

    # -- creation ---------------------------------------------------------------------

    def workflow(self, workflow_id: str, version: str | None) -> tuple[Workflow, str]:
        workflow = self.workflows.get(workflow_id)
        if workflow is None:
            raise ApiError(404, f"Workflow {workflow_id!r} not found (workflowId).")
        resolved = workflow.resolve_version(version)
        if resolved is None:
            raise ApiError(
                404,
                f"Version {version!r} of workflow {workflow_id!r} not found (version); "
                f"it has {', '.join(workflow.versions)}.",
            )
        return workflow, resolved

    def create_runs(
        self,
        workflow_id: str,
        version: str | None,
        inputs: Sequence[Mapping[str, Any]],
        *,
        priority: int,
        batch: bool,
        batch_id: str | None = None,
    ) -> tuple[str | None, list[dict[str, Any]]]:
        """One PENDING run per input; returns (batch id, the stored records).

        An input is ``{"file": {fileUrl?, fileId?, fileName?}}``, ``{"rawText", "name"?}``
        or ``{"package": [file, ...]}`` (one run over several files), with ``metadata``."""
        workflow, resolved = self.workflow(workflow_id, version)
        if batch_id is None and (batch or len(inputs) > 1):
            batch_id = wire.new_id("batch_")
        created: list[dict[str, Any]] = []
        with self._lock:
            for item in inputs:
                self._seq += 1
                run = new_run_record(
                    item,
                    workflow,
                    resolved,
                    seq=self._seq,
                    now=self.stamp(),
                    batch_id=batch_id,
                    priority=priority,
                )
                self._runs[run["id"]] = run
                if batch_id:
                    self._by_batch.setdefault(batch_id, []).append(run["id"])
                submission = submission_record(run, batch_id if batch else None)
                self._submissions.append(submission)
                if self._db is not None:
                    self._db.execute(
                        "insert into submissions (seq, body) values (?, ?)",
                        (run["seq"], json.dumps(submission)),
                    )
                created.append(run)
            self._save(*created)
            self.changed.notify_all()
            return batch_id, copy.deepcopy(created)

    # -- reading ----------------------------------------------------------------------

    def get(self, run_id: str) -> dict[str, Any]:
        """A copy of the stored record (the routes render it per version)."""
        with self._lock:
            return copy.deepcopy(self._require(run_id))

    def list_runs(
        self,
        *,
        status: str | None,
        workflow_id: str | None,
        batch_id: str | None,
        name_contains: str | None,
        sort_by: str,
        sort_dir: str,
        page_size: int,
        token: str | None,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Keyset pagination: a token holds the last (sort value, id) it returned."""
        query = json.dumps([status, workflow_id, batch_id, name_contains, sort_by, sort_dir])
        fingerprint = hashlib.sha256(query.encode()).hexdigest()[:10]
        after = _read_token(token, fingerprint) if token else None
        field = "updatedAt" if sort_by == "updatedAt" else "createdAt"
        descending = sort_dir == "desc"
        with self._lock:
            if batch_id is not None:
                pool: Iterable[dict[str, Any]] = [
                    self._runs[i] for i in self._by_batch.get(batch_id, ()) if i in self._runs
                ]
            else:
                pool = self._runs.values()
            needle = name_contains.lower() if name_contains else None
            matching = [
                run
                for run in pool
                if (status is None or run["status"] == status)
                and (workflow_id is None or run["workflowId"] == workflow_id)
                and (needle is None or needle in run["name"].lower())
            ]
            keyed = sorted(((run[field], run["id"]), run) for run in matching)
            if descending:
                keyed.reverse()
            if after is not None:
                bound = (float(after[0]), str(after[1]))
                keyed = [kr for kr in keyed if (kr[0] < bound if descending else kr[0] > bound)]
            page = keyed[:page_size]
            items = [_listed(run) for _, run in page]
            more = len(keyed) > page_size
        next_token = _make_token(page[-1][0], fingerprint) if more and page else None
        return items, next_token

    def submissions(self) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(self._submissions)

    def runs(self) -> list[dict[str, Any]]:
        with self._lock:
            ordered = sorted(self._runs.values(), key=lambda r: r["seq"])
            return [wire.full_run(run) for run in ordered]

    def open_count(self) -> int:
        with self._lock:
            return sum(1 for run in self._runs.values() if run["status"] in OPEN_STATUSES)

    def pending_seq(self, run_id: str) -> int | None:
        with self._lock:
            run = self._runs.get(run_id)
            return int(run["seq"]) if run is not None and run["status"] == "PENDING" else None

    def pending_ids(self) -> list[tuple[int, int, str]]:
        """(priority, seq, id) of every run waiting to be processed (for a restart)."""
        with self._lock:
            return [
                (run["priority"], run["seq"], run["id"])
                for run in self._runs.values()
                if run["status"] in ("PENDING", "PROCESSING")
            ]

    # -- changes ----------------------------------------------------------------------

    def update(
        self, run_id: str, name: str | None, metadata: Mapping[str, Any] | None
    ) -> dict[str, Any]:
        with self._lock:
            run = self._require(run_id)
            if name is not None:
                run["name"] = name
            if metadata is not None:
                run["metadata"] = {**(run["metadata"] or {}), **copy.deepcopy(dict(metadata))}
            run["updatedAt"] = self.stamp()
            self._save(run)
            self.changed.notify_all()
            return copy.deepcopy(run)

    def cancel(self, run_id: str) -> dict[str, Any]:
        with self._lock:
            run = self._require(run_id)
            if run["status"] not in ("PENDING", "PROCESSING"):
                raise ApiError(
                    400,
                    f"Workflow run {run_id} is {run['status']}; only PENDING or PROCESSING "
                    "runs can be cancelled.",
                )
            was_pending = run["status"] == "PENDING"
            run["status"] = "CANCELLING"
            run["updatedAt"] = self.stamp()
            self._save(run)
            answer = copy.deepcopy(run)
            self.changed.notify_all()
        if was_pending:
            # A queued run winds down at once; a processing one when its step ends.
            timer = threading.Timer(CANCEL_DELAY_SECONDS, self.finish_cancel, args=(run_id,))
            timer.daemon = True
            timer.start()
        return answer

    def finish_cancel(self, run_id: str) -> None:
        with self._lock:
            run = self._runs.get(run_id)
            if run is None or run["status"] != "CANCELLING":
                return
            now = self.stamp()
            run.update(status="CANCELLED", endTime=now, updatedAt=now, fileUrl=None)
            self._save(run)
            self._notify(run)

    def delete(self, run_id: str) -> None:
        with self._lock:
            run = self._require(run_id)
            del self._runs[run_id]
            if run["batchId"] in self._by_batch:
                self._by_batch[run["batchId"]].remove(run_id)
            if self._db is not None:
                self._db.execute("delete from runs where id = ?", (run_id,))
            self.changed.notify_all()

    def start(self, run_id: str) -> dict[str, Any] | None:
        """Move a PENDING run to PROCESSING; None if it is gone or no longer pending."""
        with self._lock:
            run = self._runs.get(run_id)
            if run is None or run["status"] not in ("PENDING", "PROCESSING"):
                return None  # gone, or cancelled while it waited
            now = self.stamp()
            run["status"] = "PROCESSING"
            run["startTime"] = run["startTime"] or now
            run["updatedAt"] = now
            self._save(run)
            return copy.deepcopy(run)

    def finish(self, run_id: str, result: Mapping[str, Any]) -> None:
        with self._lock:
            run = self._runs.get(run_id)
            if run is None:
                return
            for member in run.get("package") or []:
                member["fileUrl"] = None  # a presigned URL is a credential: not kept
            now = self.stamp()
            if run["status"] == "CANCELLING":
                run.update(status="CANCELLED", endTime=now, updatedAt=now, fileUrl=None)
            else:
                run.update(dict(result))
                run.update(endTime=now, updatedAt=now, fileUrl=None)
            self._save(run)
            self._notify(run)

    def review(
        self,
        run_id: str,
        *,
        approve: bool,
        reviewed_by: str,
        edits: Mapping[str, Any] | None = None,
        note: str | None = None,
    ) -> dict[str, Any]:
        """A reviewer's decision on a NEEDS_REVIEW run (the dashboard's job on Extend)."""
        with self._lock:
            run = self._require(run_id)
            if run["status"] != "NEEDS_REVIEW":
                raise ApiError(400, f"Workflow run {run_id} is {run['status']}, not NEEDS_REVIEW.")
            now = self.stamp()
            run.update(reviewed=True, reviewedBy=reviewed_by, reviewedAt=now, updatedAt=now)
            if approve:
                run["status"] = "PROCESSED"
                run["outputs"] = [_reviewed_output(o, edits) for o in run["outputs"]]
            else:
                run["status"] = "REJECTED"
                run["rejectionNote"] = note or "Rejected by the reviewer."
            self._save(run)
            self._notify(run)
            return wire.full_run(run)

    def _require(self, run_id: str) -> dict[str, Any]:
        run = self._runs.get(run_id)
        if run is None:
            raise ApiError(404, f"Workflow run {run_id!r} not found.")
        return run


def _reviewed_output(output: dict[str, Any], edits: Mapping[str, Any] | None) -> dict[str, Any]:
    reviewed = copy.deepcopy(output)
    if reviewed.get("type") == "EXTRACT" and isinstance(reviewed.get("output"), dict):
        body = copy.deepcopy(reviewed["output"])
        value = body.get("value") or {}
        recorded = {}
        for path, new in (edits or {}).items():
            old = _set_path(value, path, new)
            recorded[path] = {"originalValue": old, "editedValue": new}
        for entry in (body.get("metadata") or {}).values():
            entry["logprobsConfidence"] = 1.0
        reviewed.update(output=body, reviewedOutput=body, edited=bool(recorded), edits=recorded)
    reviewed["reviewed"] = True
    return reviewed


def _set_path(value: dict[str, Any], path: str, new: Any) -> Any:
    node: Any = value
    parts = path.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {}) if isinstance(node, dict) else {}
    old = node.get(parts[-1]) if isinstance(node, dict) else None
    if isinstance(node, dict):
        node[parts[-1]] = new
    return old


def _make_token(key: tuple[float, str], fingerprint: str) -> str:
    raw = json.dumps([key[0], key[1], fingerprint]).encode()
    return base64.urlsafe_b64encode(raw).decode()


def _read_token(token: str, fingerprint: str) -> tuple[float, str]:
    try:
        value, run_id, seen = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (ValueError, TypeError):
        raise ApiError(400, "nextPageToken is not a token this server issued.") from None
    if seen != fingerprint:
        raise ApiError(
            400, "nextPageToken belongs to a listing with other parameters; keep them the same."
        )
    return float(value), str(run_id)


#: Parts of a stored run no list item shows (``wire.summary``, ``wire_2026.summary``),
#: and most of its size: a page of 1,000 copied whole took seconds.
_NOT_LISTED = frozenset({"outputs", "rawText"})


def _listed(run: dict[str, Any]) -> dict[str, Any]:
    """A copy of a run for a list page, without what no summary reads."""
    return copy.deepcopy({k: v for k, v in run.items() if k not in _NOT_LISTED})
