"""The layout's promises: a Dagster-free engine, and a code location that loads quietly."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ENGINE_PACKAGES = [
    "extend_assets.client",
    "extend_assets.emulator",
    "extend_assets.errors",
    "extend_assets.flatten",
    "extend_assets.localstack",
    "extend_assets.outputs",
    "extend_assets.samples",
    "extend_assets.sensing",
    "extend_assets.submission",
    "extend_assets.webhooks",
]


def engine_modules() -> list[str]:
    """Every module under the engine packages, found on disk (new ones are covered too)."""
    modules: list[str] = []
    for package in ENGINE_PACKAGES:
        path = ROOT / Path(*package.split("."))
        if path.with_suffix(".py").exists():
            modules.append(package)
            continue
        for file in sorted(path.rglob("*.py")):
            parts = file.relative_to(ROOT).with_suffix("").parts
            if parts[-1] == "__main__":
                continue
            modules.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return modules


def test_every_engine_module_imports_with_dagster_unimportable() -> None:
    script = textwrap.dedent(
        """
        import importlib, sys

        class NoDagster:
            def find_spec(self, name, path=None, target=None):
                if name == "dagster" or name.startswith(("dagster.", "dagster_")):
                    raise ImportError(f"dagster is blocked in this test ({name})")
                return None

        sys.meta_path.insert(0, NoDagster())
        failed = []
        for name in sys.argv[1:]:
            try:
                importlib.import_module(name)
            except Exception as error:
                failed.append(f"{name}: {type(error).__name__}: {error}")
        print("\\n".join(failed))
        sys.exit(1 if failed else 0)
        """
    )
    modules = engine_modules()
    assert (
        "extend_assets.sensing.poller" in modules
        and "extend_assets.submission.submitter" in modules
    )
    done = subprocess.run(
        [sys.executable, "-c", script, *modules],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=240,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_dagster_layer_fails_clearly_without_dagster_being_the_only_reason() -> None:
    """The check above can fail: a Dagster-layer module does not import without Dagster."""
    script = textwrap.dedent(
        """
        import sys
        class NoDagster:
            def find_spec(self, name, path=None, target=None):
                if name == "dagster" or name.startswith(("dagster.", "dagster_")):
                    raise ImportError("blocked")
                return None
        sys.meta_path.insert(0, NoDagster())
        import extend_assets.sensor_builder
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode != 0 and "blocked" in done.stderr


@pytest.mark.parametrize("module", ["extend_assets.definitions"])
def test_loading_the_code_location_raises_no_warning_from_our_code(
    module: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("EXTEND_API_KEY", raising=False)
    script = textwrap.dedent(
        f"""
        import warnings
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            import {module}
            {module}.build_definitions().get_repository_def()
        ours = [
            f"{{w.filename}}:{{w.lineno}}: {{w.category.__name__}}: {{w.message}}"
            for w in caught
            if "extend_assets" in w.filename
        ]
        print("\\n".join(ours))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=240
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "", done.stdout


def test_the_factory_warns_nothing_either() -> None:
    from extend_assets import build_extend_workflow_assets

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        build_extend_workflow_assets(
            workflow_id="workflow_x", bucket="b", prefix_template="{date}/"
        )
    ours = [w for w in caught if "extend_assets" in w.filename]
    assert not ours, [str(w.message) for w in ours]
