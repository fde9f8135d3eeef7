"""A user's own resources, as `EXTEND_IO_MANAGER` / `EXTEND_RESOURCES` name them."""

from __future__ import annotations

import os
from typing import Any


def delta_tables() -> Any:
    from dagster_deltalake import LocalConfig
    from dagster_deltalake_pandas import DeltaLakePandasIOManager

    return DeltaLakePandasIOManager(
        root_uri=os.environ.get("TEST_DELTA_ROOT", "delta"), storage_options=LocalConfig()
    )


EXTRA = {"greeting": "hello"}
