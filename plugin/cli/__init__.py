"""The `shopnudge` command (also `flask --app wsgi ...`); each area adds its commands here."""

from __future__ import annotations

from flask import Flask
from flask.cli import FlaskGroup


def register_commands(app: Flask) -> None:
    from plugin.cli import data, engine, keys, run, stores, sync

    for command in (
        data.db,
        data.demo,
        keys.keys,
        run.serve,
        run.worker,
        stores.stores,
        sync.sync,
        engine.tick,
    ):
        app.cli.add_command(command)


def _create_app() -> Flask:
    from plugin import create_app

    return create_app()


main = FlaskGroup(
    name="shopnudge",
    create_app=_create_app,
    add_default_commands=False,
    add_version_option=False,
    load_dotenv=False,
    set_debug_flag=False,
    help="ShopNudge: WhatsApp marketing notifications with provable consent.",
)
