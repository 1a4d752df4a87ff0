"""Schema and demo data commands."""

from __future__ import annotations

import dataclasses

import click
from flask import current_app
from flask.cli import with_appcontext

from plugin import migrate
from plugin.config import ENVIRONMENT, Settings
from plugin.db import get_database


@click.group(help="Database schema.")
def db() -> None:
    pass


@db.command("upgrade", help="Apply every migration not applied yet.")
@click.option("--revision", default="head", show_default=True)
@with_appcontext
def db_upgrade(revision: str) -> None:
    migrate.upgrade(current_app.config["SHOPNUDGE"].database_url, revision)
    click.echo(f"database at {revision}")


@db.command("downgrade", help="Undo migrations down to a revision.")
@click.argument("revision")
@with_appcontext
def db_downgrade(revision: str) -> None:
    migrate.downgrade(current_app.config["SHOPNUDGE"].database_url, revision)
    click.echo(f"database at {revision}")


@click.command(help="Seed the demo shop (once) and serve it.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--no-serve", is_flag=True, help="Seed and exit.")
@with_appcontext
def demo(host: str, port: int, no_serve: bool) -> None:
    from plugin.demo.shop import seed_demo

    settings = served_at(current_app.config["SHOPNUDGE"], host, port)
    current_app.config["SHOPNUDGE"] = settings  # every link composed from now on
    migrate.upgrade(settings.database_url)
    with get_database().session() as session:
        summary = seed_demo(session, public_url=settings.public_url)
    verb = "seeded" if summary.created else "already there"
    click.echo(f"demo shop {verb}: store {summary.store_id}")
    _print_demo_login(summary.store_id, settings.public_url)
    if not no_serve:
        from plugin.cli.run import serve_app

        serve_app(current_app._get_current_object(), host, port)  # type: ignore[attr-defined]


def served_at(settings: Settings, host: str, port: int) -> Settings:
    """The settings with the demo's own address as the public one, unless the owner set theirs.

    Links in messages, the sign-in link and the templates' buttons all start with the public
    address; `demo --port 5150` must not print or compose links to port 5000.
    """
    if settings.public_url != ENVIRONMENT["SHOPNUDGE_PUBLIC_URL"]:
        return settings  # the owner's own address (SHOPNUDGE_PUBLIC_URL)
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    if ":" in shown:  # an IPv6 address in a URL is bracketed
        shown = f"[{shown}]"
    return dataclasses.replace(settings, public_url=f"http://{shown}:{port}")


def _print_demo_login(store_id: int, public_url: str) -> None:
    """The way into the owner's app for the demo shop: a one-time sign-in link."""
    from plugin.models import Store
    from plugin.web.auth import issue_login_token

    with get_database().session() as session:
        token = issue_login_token(session, session.get(Store, store_id))
    click.echo(f"open the shop owner's app: {public_url}/app/login/{token}")
    click.echo("(works once, for 15 minutes; `shopnudge stores login-link STORE` for another)")
