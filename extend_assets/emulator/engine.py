"""Processing: worker threads take PENDING runs by (priority, age), read and extract them."""

from __future__ import annotations

import heapq
import logging
import threading
import time
from collections import deque
from typing import Any

import requests

from extend_assets.emulator import rules, wire
from extend_assets.emulator.config import Workflow
from extend_assets.emulator.documents import DEFAULT_MAX_FILE_BYTES, Document, read_document
from extend_assets.emulator.faults import FaultPlan
from extend_assets.emulator.state import Backend

logger = logging.getLogger("extend_assets.emulator")


class Engine:
    def __init__(
        self,
        backend: Backend,
        *,
        workers: int = 4,
        latency: float = 0.0,
        runs_per_minute: float | None = None,
        max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
        faults: FaultPlan | None = None,
    ) -> None:
        self.backend = backend
        self.faults = faults
        self.latency = latency
        self.runs_per_minute = runs_per_minute
        self.max_file_bytes = max_file_bytes
        self._queue: list[tuple[int, int, str]] = []
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._started: deque[float] = deque()
        self._busy = 0
        self._session = requests.Session()
        self._threads = [
            threading.Thread(target=self._work, name=f"extend-emulator-worker-{i}", daemon=True)
            for i in range(max(1, workers))
        ]

    def start(self) -> None:
        for item in self.backend.pending_ids():
            self.enqueue(*item)
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        for thread in self._threads:
            thread.join(timeout=10)
        self._session.close()

    def enqueue(self, priority: int, seq: int, run_id: str) -> None:
        with self._cond:
            heapq.heappush(self._queue, (priority, seq, run_id))
            self._cond.notify()

    def set_throughput(self, runs_per_minute: float | None, latency: float | None) -> None:
        with self._cond:
            self.runs_per_minute = runs_per_minute
            if latency is not None:
                self.latency = latency
            self._cond.notify_all()

    def idle(self) -> bool:
        """No run being processed (queued entries of runs cancelled meanwhile don't count)."""
        with self._cond:
            return self._busy == 0

    # -- the loop ---------------------------------------------------------------------

    def _next(self) -> str | None:
        with self._cond:
            while not self._stop.is_set():
                wait = self._throttle_wait()
                if self._queue and wait <= 0:
                    _, _, run_id = heapq.heappop(self._queue)
                    self._busy += 1
                    self._started.append(time.monotonic())
                    return run_id
                self._cond.wait(timeout=min(wait, 0.5) if self._queue and wait > 0 else 0.5)
            return None

    def _throttle_wait(self) -> float:
        """Seconds until another run may start under the runs-per-minute cap (0 = paused)."""
        if self.runs_per_minute is None:
            return 0.0
        if self.runs_per_minute <= 0:
            return 3600.0
        now = time.monotonic()
        while self._started and now - self._started[0] > 60:
            self._started.popleft()
        if len(self._started) < self.runs_per_minute:
            return 0.0
        return 60 - (now - self._started[0])

    def _work(self) -> None:
        while not self._stop.is_set():
            run_id = self._next()
            if run_id is None:
                return
            try:
                run = self.backend.start(run_id)
                if run is not None:
                    if self.latency > 0 and self._stop.wait(self.latency):
                        return  # stopping mid-run: it stays PROCESSING and resumes on restart
                    self.backend.finish(run_id, self.process(run))
            except Exception:  # a bug must not kill the worker: fail the run, keep going
                logger.exception("emulator: processing %s failed", run_id)
                self.backend.finish(
                    run_id,
                    {"status": "FAILED", "failureReason": "INTERNAL_ERROR",
                     "failureMessage": "INTERNAL_ERROR: the emulator hit a bug"},
                )  # fmt: skip
            finally:
                with self._cond:
                    self._busy -= 1
                    self._cond.notify_all()

    # -- one run ----------------------------------------------------------------------

    def process(self, run: dict[str, Any]) -> dict[str, Any]:
        workflow = self.backend.workflows[run["workflowId"]]
        if self.faults is not None and self.faults.run_fails():
            return {
                "status": "FAILED",
                "failureReason": "INTERNAL_ERROR",
                "failureMessage": "INTERNAL_ERROR: injected by the emulator (fail_rate)",
                "credits": 0.0,
            }
        document = self._document(run)
        if document.failure_code:
            return {
                "status": "FAILED",
                "fileType": document.file_type,
                "pageCount": document.page_count,
                "failureReason": "FAILED_TO_PROCESS_FILE",
                "failureMessage": f"{document.failure_code}: {document.failure_detail}",
                "credits": 0.0,
            }
        text = document.text or ""
        pages = document.page_count or 1
        run = {**run, "fileType": document.file_type, "pageCount": document.page_count}
        outputs, needs_review = self._outputs(workflow, text, document, run, pages)
        return {
            "status": "NEEDS_REVIEW" if needs_review else "PROCESSED",
            "fileType": document.file_type,
            "pageCount": document.page_count,
            "outputs": outputs,
            "credits": float(sum(o["usage"]["credits"] for o in outputs)),
        }

    def _outputs(
        self, workflow: Workflow, text: str, document: Document, run: dict[str, Any], pages: int
    ) -> tuple[list[dict[str, Any]], bool]:
        outputs = []
        needs_review = False
        if workflow.classifications:
            chosen, confidence = rules.classify(text, workflow.classifications)
            config: dict[str, Any] = {
                "type": "CLASSIFY",
                "classifications": [
                    {"id": c.id, "type": c.type, "description": c.description}
                    for c in workflow.classifications
                ],
            }
            output = {
                "id": chosen.id,
                "type": chosen.type,
                "confidence": confidence,
                "insights": [],
            }
            outputs.append(wire.processor_run("CLASSIFY", "Classifier", output, config, run, pages))
        if workflow.schema is not None:
            found = rules.extract(text, workflow.schema, csv_mode=document.file_type == "CSV")
            config = {"type": "EXTRACT", "schema": workflow.schema}
            output = {"value": found.value, "metadata": found.metadata}
            outputs.append(
                wire.processor_run("EXTRACT", "Extractor", output, config, run, 2.0 * pages)
            )
            threshold = workflow.review_threshold
            needs_review = (
                threshold is not None
                and found.min_confidence is not None
                and found.min_confidence < threshold
            )
        return outputs, needs_review

    def _document(self, run: dict[str, Any]) -> Document:
        if run.get("package"):  # one run over several files: their texts, in order
            parts = [self._document({**run, "package": None, **m}) for m in run["package"]]
            failed = next((p for p in parts if p.failure_code), None)
            if failed is not None:
                return failed
            pages = sum(p.page_count or 0 for p in parts) or None
            text = "\n".join(p.text or "" for p in parts)
            return Document(text=text, file_type=parts[0].file_type, page_count=pages)
        if run.get("rawText") is not None:
            return Document(text=str(run["rawText"]), file_type="TXT", page_count=1)
        url = run.get("fileUrl")
        if not url:
            detail = f"file {run.get('inputFileId')} is unknown to the emulator"
            return Document(None, None, None, "UNABLE_TO_DOWNLOAD_FILE", detail)
        try:
            response = self._session.get(url, timeout=30)
        except requests.RequestException as error:
            return Document(None, None, None, "UNABLE_TO_DOWNLOAD_FILE", type(error).__name__)
        if response.status_code != 200:
            return Document(
                None, None, None, "UNABLE_TO_DOWNLOAD_FILE",
                f"the file URL answered HTTP {response.status_code}",
            )  # fmt: skip
        return read_document(run["name"], response.content, self.max_file_bytes)
