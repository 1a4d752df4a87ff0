"""The README's configuration table lists exactly the declared settings, with their defaults."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from plugin.config import VARIABLES, Settings, load_settings

README = Path(__file__).resolve().parents[1] / "README.md"


def configuration_table() -> dict[str, str]:
    """Each variable the table names, with the default column of its row."""
    section = README.read_text().split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, str] = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if not line.startswith("| `") or len(cells) != 3:
            continue
        for name in re.findall(r"`([A-Z0-9_]+)`", cells[0]):
            assert name not in rows, f"{name} has two rows"
            rows[name] = cells[1]
    return rows


def test_the_table_lists_every_declared_variable_and_no_other() -> None:
    declared = {variable.name for variable in VARIABLES.values()}

    assert set(configuration_table()) == declared


def test_the_table_shows_each_embedded_default_as_declared() -> None:
    table = configuration_table()

    shown = {
        variable.name: table.get(variable.name)
        for variable in VARIABLES.values()
        if variable.default is not None
    }

    expected = {
        variable.name: f"`{variable.default}`" if variable.default else "empty"
        for variable in VARIABLES.values()
        if variable.default is not None
    }
    assert shown == expected


def test_each_variable_belongs_to_one_setting() -> None:
    names = [variable.name for variable in VARIABLES.values()]

    assert len(names) == len(set(names))


def test_an_unset_environment_gives_every_declared_default(tmp_path: Path) -> None:
    settings = load_settings({"SHOPNUDGE_INSTANCE_PATH": str(tmp_path)})

    defaults = {
        f.name: f.default
        for f in dataclasses.fields(Settings)
        if f.default is not dataclasses.MISSING
    }
    assert {name: getattr(settings, name) for name in defaults} == defaults
    assert settings.send_concurrency == 64 and settings.http_timeout == 20.0
