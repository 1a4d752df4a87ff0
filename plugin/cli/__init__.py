"""The `shopnudge` command (also `flask --app wsgi ...`); each area adds its commands here."""

from __future__ import annotations

from importlib import import_module

from flask import Flask

from plugin.cli.group import ShopNudgeGroup, create_cli_app

#: (module, command) for every top-level command; a new area adds one line here.
COMMANDS = (
    ("plugin.cli.data", "db"),
    ("plugin.cli.data", "demo"),
    ("plugin.cli.keys", "keys"),
    ("plugin.cli.run", "serve"),
    ("plugin.cli.run", "worker"),
    ("plugin.cli.stores", "stores"),
    ("plugin.cli.sync", "sync"),
    ("plugin.cli.consent", "subscriptions"),
    ("plugin.cli.templates", "templates"),
    ("plugin.cli.engine", "tick"),
    ("plugin.cli.campaigns", "campaigns"),
)


def register_commands(app: Flask) -> None:
    for module, name in COMMANDS:
        app.cli.add_command(getattr(import_module(module), name))


main = ShopNudgeGroup(
    name="shopnudge",
    create_app=create_cli_app,
    add_default_commands=False,
    add_version_option=False,
    load_dotenv=False,
    set_debug_flag=False,
    help="ShopNudge: WhatsApp marketing notifications with provable consent.",
)
