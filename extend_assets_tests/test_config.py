"""ExtendWorkflowConfig: one declaration of every option, validated, documented in the README."""

from __future__ import annotations

import inspect
import re
from pathlib import Path
from typing import Any

import pytest

from extend_assets import ExtendWorkflowConfig, build_extend_workflow_assets
from extend_assets.config import options_table
from extend_assets.errors import ExtendAssetsConfigError, ExtendAssetsError, PartitionSelectionError

README = Path(__file__).resolve().parents[1] / "README.md"
GOOD: dict[str, Any] = {
    "workflow_id": "workflow_x",
    "bucket": "docs",
    "prefix_template": "in/{date}/",
}


def test_the_readme_lists_every_option_as_generated() -> None:
    text = README.read_text()
    block = re.search(r"<!-- options:start -->\n(.*?)<!-- options:end -->", text, re.S)
    assert block is not None, "README lost its options markers"
    assert block.group(1).strip() == options_table().strip(), (
        "README options table is stale: paste `python -m extend_assets.config` between the markers"
    )
    for option in ExtendWorkflowConfig.model_fields:
        assert f"| `{option}` |" in block.group(1)


def test_keyword_arguments_and_a_config_build_the_same_assets() -> None:
    by_kwargs = build_extend_workflow_assets(**GOOD, name="inv")
    by_config = build_extend_workflow_assets(ExtendWorkflowConfig(**GOOD, name="inv"))
    assert by_kwargs.keys == by_config.keys
    assert by_kwargs.config == by_config.config
    assert [a.key for a in by_kwargs.assets] == [a.key for a in by_config.assets]


def test_a_config_can_be_refined_with_keywords() -> None:
    built = build_extend_workflow_assets(ExtendWorkflowConfig(**GOOD), name="second")
    assert built.config is not None and built.config.name == "second"
    assert built.config.bucket == "docs"


def test_the_factory_has_no_option_the_config_lacks() -> None:
    parameters = inspect.signature(build_extend_workflow_assets).parameters
    assert list(parameters) == ["config", "options"], "options belong in ExtendWorkflowConfig"


@pytest.mark.parametrize(
    ("options", "error", "fragments"),
    [
        ({"priority": 0}, ExtendAssetsConfigError, ["priority=0", "1..100"]),
        ({"fetch_workers": 0}, ExtendAssetsConfigError, ["fetch_workers=0", "1..64"]),
        ({"start_date": "13/01/2025"}, ExtendAssetsConfigError, ["start_date", "YYYY-MM-DD"]),
        (
            {"review_policy": "later"},
            ExtendAssetsConfigError,
            ["review_policy", "'wait' or 'settle'"],
        ),
        ({"sensor_tick_budget_seconds": 90}, ExtendAssetsConfigError, ["60 s sensor timeout"]),
        (
            {"low_confidence_threshold": 2},
            ExtendAssetsConfigError,
            ["low_confidence_threshold", "0..1"],
        ),
        ({"priorty": 5}, ExtendAssetsConfigError, ["'priorty' is unknown", "priority"]),
        ({"priority": "high"}, ExtendAssetsConfigError, ["priority='high'", "1..100"]),
        ({"prefix_template": "docs/"}, PartitionSelectionError, ["no {date} placeholder"]),
        ({"bucket": ""}, ExtendAssetsConfigError, ["bucket", "EXTEND_S3_BUCKET"]),
        ({"raw_runs_keep": 0}, ExtendAssetsConfigError, ["raw_runs_keep=0", "Keep 2"]),
    ],
)
def test_bad_options_name_the_option_and_the_fix(
    options: dict[str, object], error: type[Exception], fragments: list[str]
) -> None:
    with pytest.raises(error) as raised:
        build_extend_workflow_assets(**{**GOOD, **options})
    assert isinstance(raised.value, ExtendAssetsError)
    for fragment in fragments:
        assert fragment in str(raised.value)


def test_run_metadata_values_are_not_echoed_in_the_error() -> None:
    with pytest.raises(ExtendAssetsConfigError) as raised:
        build_extend_workflow_assets(**GOOD, run_metadata={"token": "s3cr3t" * 3000})
    assert "s3cr3t" not in str(raised.value)
    assert "10240" in str(raised.value)


def test_raw_text_source_needs_no_bucket() -> None:
    config = ExtendWorkflowConfig(workflow_id="w", raw_text_source="upstream/texts")
    assert config.selector is None
    assert config.raw_text_source_name == "upstream/texts"


def test_a_bad_priority_says_what_unset_means_as_the_readme_does() -> None:
    with pytest.raises(ExtendAssetsConfigError) as caught:
        ExtendWorkflowConfig.build(**GOOD, priority=0)
    message = str(caught.value)
    assert "unset" in message and "Extend's batch priority, 90" in message
    assert "50 is the default" not in message
    assert "(Extend's batch priority, 90)" in README.read_text()
