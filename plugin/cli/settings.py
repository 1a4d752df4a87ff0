"""Changing a shop's settings from the command line, validated and audited like the page."""

from __future__ import annotations

import json

import click
from flask.cli import with_appcontext

from plugin.db import get_database
from plugin.stores.registry import find_store
from plugin.stores.settings import PARSERS, InvalidSetting, parse_setting
from plugin.web.app.changes import apply_changes


@click.command("set", help="Change one shop setting: stores set STORE KEY VALUE.")
@click.argument("store_ref", metavar="STORE")
@click.argument("name", metavar="KEY", type=click.Choice(sorted(PARSERS)))
@click.argument("text", metavar="VALUE")
@with_appcontext
def stores_set(store_ref: str, name: str, text: str) -> None:
    try:
        value = parse_setting(name, text)
    except InvalidSetting as error:
        click.echo(f"error: {error}", err=True)
        raise SystemExit(2) from None
    with get_database().session() as session:
        store = find_store(session, store_ref)
        if store is None:
            click.echo(f"error: no store {store_ref!r} (see `shopnudge stores list`)", err=True)
            raise SystemExit(2)
        changed = apply_changes(session, store, {name: value}, "command line", action="cli")
        session.commit()
    shown = json.dumps(value, ensure_ascii=False)
    click.echo(f"{name} = {shown}" + ("" if changed else " (unchanged)"))
