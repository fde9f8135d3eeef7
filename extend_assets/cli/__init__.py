"""The ``extend-assets`` command: the offline demo, the emulator, the local stack, dev."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from extend_assets.emulator.state import StateFileInUseError
from extend_assets.localstack.stack import MissingExtraError

# subcommand -> (module with add_arguments/run, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("extend_assets.cli.demo", "run the whole pipeline offline on sample documents"),
    "emulator": ("extend_assets.emulator.cli", "serve the local Extend emulator"),
    "local-stack": (
        "extend_assets.localstack.cli",
        "serve the emulator and a local S3 with samples",
    ),
    "dev": ("extend_assets.cli.dev", "the local stack plus `dagster dev` (the UI)"),
    "review": ("extend_assets.cli.review", "approve or reject a run in review on the emulator"),
    "dagster-yaml": ("extend_assets.cli.instance", "print the packaged instance settings"),
    "webhooks": (
        "extend_assets.webhooks.cli",
        "receive Extend's signed webhooks and land them durably (S3 or a folder)",
    ),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="extend-assets",
        description="Dagster assets over Extend document workflows, and their offline tools.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        sub = subparsers.add_parser(name, help=help_text, description=help_text)
        module = importlib.import_module(module_name)
        module.add_arguments(sub)
        sub.set_defaults(_module=module_name)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    module = importlib.import_module(args._module)
    try:
        code: int = module.run(args)
    except (StateFileInUseError, MissingExtraError) as error:
        print(f"extend-assets {args.command}: error: {error}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":
    sys.exit(main())
