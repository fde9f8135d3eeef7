"""``extend-assets dagster-yaml``: print the packaged instance settings (``dagster.yaml``).

``extend-assets dagster-yaml > $DAGSTER_HOME/dagster.yaml`` starts a deployment from
the same settings the demo and dev use (SQLite storage, the ``extend_api`` pool, the
run queue, Postgres and run-launcher blocks to uncomment).
"""

from __future__ import annotations

import argparse
import sys

from extend_assets.cli.environment import dagster_yaml_text


def add_arguments(parser: argparse.ArgumentParser) -> None:
    del parser  # no options


def run(args: argparse.Namespace) -> int:
    sys.stdout.write(dagster_yaml_text())
    return 0
