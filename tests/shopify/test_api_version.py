"""SHOPIFY_API_VERSION older than 2026-07 is refused at start, in one line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from plugin.config import ConfigurationError, load_settings

REFUSAL = (
    "SHOPIFY_API_VERSION 2026-04 is not supported: ShopNudge needs Shopify's Admin API 2026-07 "
    "or later (WhatsApp marketing consent, checkoutToken); set it to 2026-07"
)


def test_a_version_before_2026_07_is_refused_with_the_reason(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as refused:
        load_settings({"SHOPNUDGE_INSTANCE_PATH": str(tmp_path), "SHOPIFY_API_VERSION": "2026-04"})
    assert str(refused.value) == REFUSAL


@pytest.mark.parametrize("version", ["2026-7", "latest", "unstable", "2026-13"])
def test_a_version_that_is_no_release_is_refused(tmp_path: Path, version: str) -> None:
    with pytest.raises(ConfigurationError, match=f"SHOPIFY_API_VERSION {version} is not"):
        load_settings({"SHOPNUDGE_INSTANCE_PATH": str(tmp_path), "SHOPIFY_API_VERSION": version})


@pytest.mark.parametrize("version", ["2026-07", "2026-10", "2027-01"])
def test_2026_07_and_later_are_accepted(tmp_path: Path, version: str) -> None:
    settings = load_settings(
        {"SHOPNUDGE_INSTANCE_PATH": str(tmp_path), "SHOPIFY_API_VERSION": version}
    )
    assert settings.shopify_api_version == version


def test_the_command_line_shows_one_line_and_no_traceback(tmp_path: Path) -> None:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "SHOPNUDGE_INSTANCE_PATH": str(tmp_path),
        "SHOPIFY_API_VERSION": "2026-04",
    }
    done = subprocess.run(
        [str(Path(sys.executable).parent / "shopnudge"), "stores", "list"],
        env=env,
        cwd=Path(__file__).parents[2],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == f"Error: {REFUSAL}\n"


def test_an_old_version_given_by_the_app_factory_is_refused_too(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="SHOPIFY_API_VERSION 2025-10 is not supported"):
        load_settings(
            {"SHOPNUDGE_INSTANCE_PATH": str(tmp_path)}, {"shopify_api_version": "2025-10"}
        )
