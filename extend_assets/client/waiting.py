"""Waiting for runs: ``wait_for_run`` (fixed interval) and ``create_and_poll`` /
``run_and_wait`` / ``poll_run`` (the official SDK 1.20 schedule), mixed into
:class:`~extend_assets.client.ExtendClient`."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from extend_assets.client.errors import WaitTimeoutError
from extend_assets.client.models import OPEN_STATUSES, TERMINAL_STATUSES, WorkflowRun
from extend_assets.client.polling import PollingSchedule, poll_until
from extend_assets.client.wire.inputs import FileInput, file_input, text_input


class Waiting:
    """Needs ``get_workflow_run``, ``run_package``, ``_create``, ``_clock``, ``_sleep``."""

    _clock: Callable[[], float]
    _sleep: Callable[[float], None]

    def get_workflow_run(self, workflow_run_id: str) -> WorkflowRun:
        raise NotImplementedError

    def run_package(
        self,
        workflow_id: str,
        files: Sequence[Mapping[str, Any]],
        version: str | None = None,
        priority: int | None = None,
        metadata: Mapping[str, Any] | None = None,
        *,
        secrets: Mapping[str, Any] | None = None,
    ) -> WorkflowRun:
        raise NotImplementedError

    def _create(
        self,
        workflow_id: str,
        inputs: Sequence[FileInput],
        version: str | None,
        priority: int | None,
        metadata: Mapping[str, Any] | None,
        secrets: Mapping[str, Any] | None,
    ) -> list[WorkflowRun]:
        raise NotImplementedError

    def wait_for_run(
        self, workflow_run_id: str, timeout: float = 300.0, poll_interval: float = 2.0
    ) -> WorkflowRun:
        """Polls until the run is PROCESSED, FAILED, CANCELLED, NEEDS_REVIEW or REJECTED."""
        deadline = self._clock() + timeout
        while True:
            run = self.get_workflow_run(workflow_run_id)
            if run.status in TERMINAL_STATUSES:
                return run
            remaining = deadline - self._clock()
            if remaining <= 0:
                raise WaitTimeoutError(
                    f"workflow run {workflow_run_id} is still {run.status} after {timeout:.0f} s"
                )
            self._sleep(min(poll_interval, remaining))

    def create_and_poll(
        self,
        workflow_id: str,
        file: Mapping[str, Any] | None = None,
        *,
        raw_text: str | None = None,
        package: Sequence[Mapping[str, Any]] | None = None,
        version: str | None = None,
        priority: int | None = None,
        metadata: Mapping[str, Any] | None = None,
        secrets: Mapping[str, Any] | None = None,
        max_wait: float | None = None,
        schedule: PollingSchedule | None = None,
    ) -> WorkflowRun:
        """Run ONE document (a ``file``, a ``raw_text`` or, on 2026, a ``package``) and
        poll it as the official SDK 1.20 ``create_and_poll`` does: a GET at once, then
        every 1 s for 30 s, then x1.15 up to 30 s, with jitter (:class:`PollingSchedule`).

        The wait ends at any status but PENDING, PROCESSING or CANCELLING (so also at
        NEEDS_REVIEW and REJECTED). ``max_wait`` seconds (None: no limit, as in the
        SDK) bound it with :class:`WaitTimeoutError`; the run keeps going on Extend.
        """
        if sum(x is not None for x in (file, raw_text, package)) != 1:
            raise ValueError("create_and_poll: give exactly one of file, raw_text or package")
        if package is not None:
            run = self.run_package(
                workflow_id, package, version, priority, metadata, secrets=secrets
            )
        else:
            source = (
                file_input(file, "file") if file is not None else text_input(raw_text, "raw_text")
            )
            (run,) = self._create(workflow_id, [source], version, priority, metadata, secrets)
        return self.poll_run(run.id, max_wait=max_wait, schedule=schedule)

    run_and_wait = create_and_poll

    def poll_run(
        self,
        workflow_run_id: str,
        *,
        max_wait: float | None = None,
        schedule: PollingSchedule | None = None,
    ) -> WorkflowRun:
        """GET the run until it leaves PENDING/PROCESSING/CANCELLING (SDK 1.20 schedule)."""
        return poll_until(
            lambda: self.get_workflow_run(workflow_run_id),
            lambda run: run.status not in OPEN_STATUSES,
            schedule=schedule or PollingSchedule(),
            clock=self._clock,
            sleep=self._sleep,
            max_wait=max_wait,
            describe=lambda run: f"workflow run {workflow_run_id} is still {run.status}",
        )

    # -- transport ----------------------------------------------------------------
