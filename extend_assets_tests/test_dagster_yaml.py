"""The instance file at the repository root (what DAGSTER_HOME points at in a checkout)
is the packaged one (what `extend-assets dagster-yaml` writes from an install)."""

from pathlib import Path

from extend_assets.cli.environment import dagster_yaml_text

ROOT = Path(__file__).resolve().parent.parent


def test_the_root_dagster_yaml_is_the_packaged_copy() -> None:
    root = ROOT / "dagster.yaml"
    assert root.is_file(), "dagster.yaml at the repository root is missing"
    assert root.read_text() == dagster_yaml_text(), (
        "dagster.yaml and extend_assets/cli/dagster.yaml differ: edit one, then "
        "cp extend_assets/cli/dagster.yaml dagster.yaml"
    )
