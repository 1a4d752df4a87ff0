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
    if not no_serve:
        from plugin.cli.run import serve_app

        serve_app(current_app._get_current_object(), host, port)  # type: ignore[attr-defined]
