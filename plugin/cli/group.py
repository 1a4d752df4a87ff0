"""The `shopnudge` command (`main`): only ShopNudge's options, and one line an owner can act on.

Flask's group adds `-e/--env-file`, `-A/--app` and `--debug`, which mean nothing to a shop owner
(the app is always ShopNudge's, configuration comes from SHOPNUDGE_* variables). A database that
is missing, unreachable or not migrated ends a command with one line that names the fix, not
the driver's traceback.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import click
from flask import Flask
from flask.cli import FlaskGroup
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, OperationalError

from plugin import create_app
from plugin.config import ConfigurationError, load_settings
from plugin.db import get_database

#: Flask's own options, hidden from `shopnudge --help` and not accepted.
FLASK_OPTIONS = ("env_file", "app", "debug")
#: Commands that may set up a new installation (the instance folder); every other one must find it.
SETUP_COMMANDS = ("db", "demo", "serve", "worker")
#: Where ShopNudgeGroup notes the command being looked up (click's context meta).
COMMAND_KEY = "shopnudge.command"


def database_address(url: str) -> str:
    """Where the database is, without its password."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return "SHOPNUDGE_DATABASE_URL"
    if parsed.get_backend_name() == "sqlite":
        return parsed.database or "an in-memory SQLite database"
    return f"{parsed.host or 'localhost'}:{parsed.port or 5432}/{parsed.database or ''}"


def database_problem(error: Exception, url: str) -> str:
    """One line: what is wrong with the database, and the command or setting that fixes it."""
    text = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
    where = database_address(url)
    if re.search(r"no such table|relation .* does not exist|UndefinedTable", text):
        return f"the database at {where} has no tables yet: run `shopnudge db upgrade`"
    if match := re.search(r'database "([^"]+)" does not exist', text):
        return (
            f"the database {match.group(1)!r} does not exist on {where.rsplit('/', 1)[0]}: "
            f"create it (`createdb {match.group(1)}`), then run `shopnudge db upgrade`"
        )
    if "unable to open database file" in text:
        return f"cannot open the SQLite file {where}: check the folder exists and is writable"
    if not url:
        return f"the database failed: {text}"
    if isinstance(error, NoSuchModuleError):
        return f"SHOPNUDGE_DATABASE_URL names a database ShopNudge cannot use: {text}"
    reason = re.sub(r"^\(?[\w.]+\)?\s*", "", text) if text.startswith("(") else text
    return (
        f"cannot reach the database at {where} ({reason}): start it, or fix SHOPNUDGE_DATABASE_URL"
    )


class ShopNudgeGroup(FlaskGroup):
    """FlaskGroup without Flask's options, turning database failures into one line."""

    def __init__(self, **extra: Any) -> None:
        super().__init__(**extra)
        self.params = [p for p in self.params if p.name not in FLASK_OPTIONS]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        # Flask loads the app to find the command, before click sets invoked_subcommand:
        # say which command it is, so the ones that may create an installation can.
        ctx.meta[COMMAND_KEY] = cmd_name
        return super().get_command(ctx, cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (OperationalError, DBAPIError, NoSuchModuleError) as error:
            url = _configured_database_url(ctx)
            _close_database(ctx)
            raise click.ClickException(database_problem(error, url)) from None


def _configured_database_url(ctx: click.Context) -> str:
    """The database URL of the app this command loaded."""
    app = getattr(ctx.obj, "_loaded_app", None)  # ctx.obj is Flask's ScriptInfo
    return str(app.config["SHOPNUDGE"].database_url) if app is not None else ""


def _close_database(ctx: click.Context) -> None:
    """Close the pool's connections now: the command ends here, not where they were opened."""
    app = getattr(ctx.obj, "_loaded_app", None)
    if app is not None:
        get_database(app).dispose()


def may_set_up() -> bool:
    """True when the running command is one that may create a new installation."""
    ctx = click.get_current_context(silent=True)
    if ctx is None:
        return False
    root = ctx.find_root()
    return (root.invoked_subcommand or ctx.meta.get(COMMAND_KEY)) in SETUP_COMMANDS


def create_cli_app() -> Flask:
    """The app for a command; configuration problems and a missing database end in one line."""
    set_up = may_set_up()
    try:
        url = make_url(load_settings(overrides={"create_instance": set_up}).database_url)
        sqlite_file = url.database if url.get_backend_name() == "sqlite" else None
        missing = sqlite_file not in (None, "", ":memory:") and not Path(str(sqlite_file)).exists()
        if missing and not set_up:
            # opening it would leave an empty database file behind, and say nothing useful
            raise click.ClickException(
                f"no database at {sqlite_file} yet: run `shopnudge db upgrade` "
                "(or `shopnudge demo`)"
            )
        return create_app({"create_instance": set_up})
    except ConfigurationError as error:
        raise click.ClickException(str(error)) from None


main = ShopNudgeGroup(
    name="shopnudge",
    create_app=create_cli_app,
    add_default_commands=False,
    add_version_option=False,
    load_dotenv=False,
    set_debug_flag=False,
    help="ShopNudge: WhatsApp marketing notifications with provable consent.",
)
