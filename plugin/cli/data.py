"""Schema and demo data commands."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from plugin import migrate
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
    from plugin.demo import seed_demo

    settings = current_app.config["SHOPNUDGE"]
    migrate.upgrade(settings.database_url)
    with get_database().session() as session:
        summary = seed_demo(session, public_url=settings.public_url)
    verb = "seeded" if summary.created else "already there"
    click.echo(f"demo shop {verb}: store {summary.store_id}")
    _print_demo_login(summary.store_id, settings.public_url, host, port, no_serve)
    if not no_serve:
        from plugin.cli.run import serve_app

        serve_app(current_app._get_current_object(), host, port)  # type: ignore[attr-defined]


def _print_demo_login(store_id: int, public_url: str, host: str, port: int, no_serve: bool) -> None:
    """The way into the owner's app for the demo shop: a one-time sign-in link."""
    from plugin.models import Store
    from plugin.web.auth import issue_login_token

    with get_database().session() as session:
        token = issue_login_token(session, session.get(Store, store_id))
    base = public_url if no_serve else f"http://{host}:{port}"
    click.echo(f"open the shop owner's app: {base}/app/login/{token}")
    click.echo("(works once, for 15 minutes; `shopnudge stores login-link STORE` for another)")
