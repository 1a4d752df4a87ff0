"""The README's layout names every room of plugin/ and lists the jobs in the order `tick` runs."""

from __future__ import annotations

import re
from pathlib import Path

from plugin.scheduler import jobs

ROOT = Path(__file__).resolve().parents[1]


def layout_section() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    return readme.split("\n## Layout\n", 1)[1].split("\n## ", 1)[0]


def test_the_tick_order_in_the_readme_is_the_schedulers() -> None:
    steps = re.findall(r"^ {2}\d+\. (.+(?:\n {5}.+)*)", layout_section(), flags=re.MULTILINE)
    listed = [name for step in steps for name in re.findall(r"`([a-z_]+)`", step)]

    assert listed == list(jobs())


def test_the_layout_names_every_package_of_plugin() -> None:
    packages = {path.parent.name for path in (ROOT / "plugin").glob("*/__init__.py")}

    missing = {name for name in packages if f"{name}/" not in layout_section()}

    assert missing == set()
