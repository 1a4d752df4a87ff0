"""The command line guides: it finds its installation, and says in one line what is wrong."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask.testing import FlaskCliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin.cli.group import main
from plugin.instance import InstanceNotFound, find_instance
from plugin.models import Product, WhatsAppTemplate


@pytest.fixture
def app_overrides() -> dict[str, Any]:
    """The embedded default public address, as an owner who set none has it."""
    return {"public_url": "http://127.0.0.1:5000"}


def test_help_shows_only_shopnudges_options() -> None:
    result = CliRunner().invoke(main, ["--help"])

    assert result.exit_code == 0
    options = result.output.split("Options:")[1].split("Commands:")[0]
    assert options.split() == ["--help", "Show", "this", "message", "and", "exit."]
    for flask_option in ("--app", "--env-file", "--debug", "-A", "-e"):
        assert flask_option not in result.output


def test_flasks_options_are_not_accepted() -> None:
    result = CliRunner().invoke(main, ["--app", "other", "stores", "list"])

    assert result.exit_code == 2
    assert "Error: No such option '--app'." in result.output


def test_a_command_without_an_installation_says_where_it_looked_and_creates_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    env = {"HOME": str(tmp_path / "home")}

    with pytest.raises(InstanceNotFound) as raised:
        find_instance("", env, create=False, checkout=tmp_path / "checkout")

    assert str(raised.value) == (
        f"no ShopNudge installation found (looked in {tmp_path}/instance, "
        f"{tmp_path}/checkout/instance, {tmp_path}/home/.local/share/shopnudge); set "
        "SHOPNUDGE_INSTANCE_PATH, or run `shopnudge db upgrade` to create one in "
        f"{tmp_path}/home/.local/share/shopnudge"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_setting_up_creates_the_installation_in_the_users_data_folder_never_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "home").mkdir()
    env = {"HOME": str(tmp_path / "home")}

    found = find_instance("", env, create=True, checkout=tmp_path / "checkout")

    assert found == tmp_path / "home" / ".local" / "share" / "shopnudge"
    assert found.is_dir()
    assert not (tmp_path / "instance").exists()


def test_an_existing_instance_in_the_current_folder_is_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "instance").mkdir()
    monkeypatch.chdir(tmp_path)

    found = find_instance("", {"HOME": str(tmp_path)}, create=False, checkout=tmp_path / "x")

    assert found == tmp_path / "instance"


def test_stores_list_from_another_folder_creates_no_instance_there(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SHOPNUDGE_INSTANCE_PATH", raising=False)
    monkeypatch.delenv("SHOPNUDGE_DATABASE_URL", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)

    result = CliRunner().invoke(main, ["stores", "list"])

    assert result.exit_code == 1
    assert len(result.output.splitlines()) == 1
    assert result.output.startswith("Error: no ")  # no installation, or no database yet
    assert "Traceback" not in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_demo_on_a_fresh_machine_creates_its_installation_and_seeds_the_shop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the README's first command: nothing set up, nothing configured, run from another folder
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SHOPNUDGE_INSTANCE_PATH", raising=False)
    monkeypatch.delenv("SHOPNUDGE_DATABASE_URL", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    (tmp_path / "home").mkdir()

    result = CliRunner().invoke(main, ["demo", "--no-serve"])

    assert result.exit_code == 0, result.output
    assert "demo shop seeded: store 1" in result.output
    installation = tmp_path / "home" / ".local" / "share" / "shopnudge"
    assert (installation / "shopnudge.db").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home"]


def test_a_missing_sqlite_database_is_one_line_and_is_not_created(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "instance").mkdir()
    monkeypatch.setenv("SHOPNUDGE_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.delenv("SHOPNUDGE_DATABASE_URL", raising=False)

    result = CliRunner().invoke(main, ["stores", "list"])

    assert result.exit_code == 1
    assert result.output == (
        f"Error: no database at {tmp_path}/instance/shopnudge.db yet: run `shopnudge db "
        "upgrade` (or `shopnudge demo`)\n"
    )
    assert not (tmp_path / "instance" / "shopnudge.db").exists()


def test_an_unreachable_postgresql_is_one_line_with_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHOPNUDGE_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("SHOPNUDGE_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:1/shop")

    result = CliRunner().invoke(main, ["stores", "list"])

    assert result.exit_code == 1
    assert len(result.output.splitlines()) == 1
    assert result.output.startswith("Error: cannot reach the database at 127.0.0.1:1/shop (")
    assert result.output.endswith("): start it, or fix SHOPNUDGE_DATABASE_URL\n")
    assert "Connection refused" in result.output


def test_a_postgresql_database_without_tables_says_run_db_upgrade(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, postgres_url: str
) -> None:
    monkeypatch.setenv("SHOPNUDGE_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("SHOPNUDGE_DATABASE_URL", postgres_url)

    result = CliRunner().invoke(main, ["stores", "list"])

    assert result.exit_code == 1
    assert result.output.endswith("has no tables yet: run `shopnudge db upgrade`\n")
    assert len(result.output.splitlines()) == 1


def test_demo_port_is_in_every_printed_and_composed_link(
    runner: FlaskCliRunner, session: Session
) -> None:
    result = runner.invoke(args=["demo", "--no-serve", "--port", "5150"])

    assert result.exit_code == 0, result.output
    assert re.search(
        r"open the shop owner's app: http://127\.0\.0\.1:5150/app/login/\S+", result.output
    )
    stored = json.dumps(
        [t.components for t in session.scalars(select(WhatsAppTemplate))]
        + [p.image_url for p in session.scalars(select(Product))]
    )
    assert ":5000" not in stored
    assert stored.count("127.0.0.1:5150") > 10
