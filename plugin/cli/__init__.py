"""The `shopnudge` command's commands (also `flask --app wsgi ...`); each area adds its own here.

create_app registers them on every app. The command itself, `main` in plugin/cli/group.py,
builds the app; this package imports neither it nor the app, so the two do not import each other.
"""

from __future__ import annotations

from importlib import import_module

from flask import Flask

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
