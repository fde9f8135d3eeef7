"""The bundled code location's executor: Dagster's default, its step processes forked.

Dagster's default executor starts each step of a run in a new process by ``spawn``: a
fresh interpreter that imports Dagster, pandas and this package again, about 3 s of
CPU per step before the step does anything. With ``forkserver`` (Dagster's own
option, ``start_method: forkserver``) one server process per run imports them once
(:data:`PRELOADED`) and each step is forked from it.

:func:`forked_steps_executor` is ``multi_or_in_process_executor`` with that start
method as the default; its run config is the default executor's, so
``execution: config: in_process: {}`` and an explicit ``start_method`` still win.
Where ``forkserver`` does not exist (Windows), it is Dagster's default unchanged.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Mapping
from typing import Any

from dagster import ExecutorDefinition, multi_or_in_process_executor

#: Imported once by the run's fork server: Dagster, pandas and this package's Dagster
#: layer (what a step of any code location using these assets imports), not a code
#: location itself, whose module may read the environment as it loads.
PRELOADED = [
    "dagster",
    "extend_assets.assets",
    "extend_assets.io_manager",
    "extend_assets.resources",
]
FORKSERVER: dict[str, Any] = {"forkserver": {"preload_modules": PRELOADED}}


def forked_steps_executor() -> ExecutorDefinition:
    """``multi_or_in_process_executor``, its multiprocess mode forking steps by default."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multi_or_in_process_executor
    return multi_or_in_process_executor.configured(
        with_forkserver,
        name="multi_or_in_process_executor",
        config_schema=multi_or_in_process_executor.config_schema.as_field(),
    )


def with_forkserver(config: Mapping[str, Any] | None) -> dict[str, Any]:
    """The run's executor config, ``start_method: forkserver`` added to a multiprocess
    one that names no start method."""
    config = dict(config or {"multiprocess": {}})
    multiprocess = config.get("multiprocess")
    if multiprocess is not None and not (multiprocess or {}).get("start_method"):
        config["multiprocess"] = {**(multiprocess or {}), "start_method": FORKSERVER}
    return config
