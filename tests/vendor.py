"""Where the vendors' published contracts are found at test time.

They are not part of this repository: they lie in `shared/vendor/` beside the checkout (or
wherever SHOPNUDGE_VENDOR_DIR points). Tests that check against them skip with the reason where
they are absent; with SHOPNUDGE_REQUIRE_VENDOR_SPECS=1 (CI) an absent contract fails instead.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

VENDOR_DIR = Path(
    os.environ.get("SHOPNUDGE_VENDOR_DIR")
    or Path(__file__).resolve().parents[2] / "shared" / "vendor"
)


def vendor_specs_required() -> bool:
    return os.environ.get("SHOPNUDGE_REQUIRE_VENDOR_SPECS") == "1"


def find_vendor_file(*parts: str) -> Path | None:
    """The contract file, or None where it is absent (and absence is allowed)."""
    path = VENDOR_DIR.joinpath(*parts)
    if path.exists():
        return path
    if vendor_specs_required():
        raise FileNotFoundError(
            f"vendor contract {path} is missing and SHOPNUDGE_REQUIRE_VENDOR_SPECS=1"
        )
    return None


def vendor_file(*parts: str) -> Path:
    """The contract file; skips the calling test (fails it in CI) where it is absent."""
    path = VENDOR_DIR.joinpath(*parts)
    if path.exists():
        return path
    reason = (
        f"vendor contract {path} is absent (no shared/vendor/ beside this checkout); "
        "set SHOPNUDGE_VENDOR_DIR to check against the vendors' specifications"
    )
    if vendor_specs_required():
        pytest.fail(reason)
    pytest.skip(reason)
