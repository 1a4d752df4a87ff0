"""Registering and listing shops."""

from __future__ import annotations

import json

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select

from plugin.db import get_database
from plugin.models import Store
from plugin.stores import InvalidStore, add_store


@click.group(help="Shops connected to ShopNudge.")
def stores() -> None:
    pass


@stores.command("add", help="Register a shop that uses a custom-app token or REST keys.")
@click.option("--platform", required=True, type=click.Choice(["shopify", "woocommerce"]))
@click.option("--domain", required=True, help="shop.myshopify.com, or the WooCommerce site")
@click.option("--token", help="Shopify Admin API access token")
@click.option("--consumer-key", help="WooCommerce REST consumer key")
@click.option("--consumer-secret", help="WooCommerce REST consumer secret")
@click.option("--webhook-secret", help="secret the platform signs webhooks with")
@click.option("--name", help="business name shown to buyers (default: from the domain)")
@with_appcontext
def stores_add(
    platform: str,
    domain: str,
    token: str | None,
    consumer_key: str | None,
    consumer_secret: str | None,
    webhook_secret: str | None,
    name: str | None,
) -> None:
    try:
        with get_database().session() as session:
            store = add_store(
                session,
                current_app.config["SHOPNUDGE"],
                platform=platform,
                domain=domain,
                token=token,
                consumer_key=consumer_key,
                consumer_secret=consumer_secret,
                webhook_secret=webhook_secret,
                name=name,
            )
            from plugin.consent.wording import ensure_default_wordings

            ensure_default_wordings(session, store)
            store_id = store.id
    except InvalidStore as error:
        click.echo(f"error: {error}", err=True)
        raise SystemExit(2) from None
    click.echo(store_id)


@stores.command("list", help="Every shop: id, public key, platform, domain, status.")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def stores_list(as_json: bool) -> None:
    with get_database().session() as session:
        rows = [
            {
                "id": s.id,
                "public_key": s.public_key,
                "platform": s.platform,
                "domain": s.domain,
                "status": s.status,
                "name": s.name,
            }
            for s in session.scalars(select(Store).order_by(Store.id))
        ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        click.echo(
            f"{row['id']:>4}  {row['public_key']:<18} {row['platform']:<12} "
            f"{row['domain']:<40} {row['status']}"
        )


@stores.command("login-link", help="Print a one-time sign-in link to the shop's /app/ pages.")
@click.argument("store_ref", metavar="STORE")
@with_appcontext
def stores_login_link(store_ref: str) -> None:
    from plugin.stores import find_store
    from plugin.web.auth import LOGIN_LINK_LIFETIME, issue_login_token

    with get_database().session() as session:
        store = find_store(session, store_ref)
        if store is None:
            click.echo(f"error: no store {store_ref!r} (see `shopnudge stores list`)", err=True)
            raise SystemExit(2)
        token = issue_login_token(session, store)
    minutes = int(LOGIN_LINK_LIFETIME.total_seconds() // 60)
    click.echo(f"{current_app.config['SHOPNUDGE'].public_url}/app/login/{token}")
    click.echo(f"(works once, for {minutes} minutes)", err=True)


@stores.command(
    "connect", help="Print the address where a WooCommerce shop's owner approves ShopNudge."
)
@click.argument("site_url", metavar="URL")
@with_appcontext
def stores_connect(site_url: str) -> None:
    """The way in for a new WooCommerce shop: the web route serves only signed-in owners."""
    from plugin.woocommerce.connect import InsecureCallback, start_connect

    try:
        with get_database().session() as session:
            url = start_connect(session, current_app.config["SHOPNUDGE"], site_url)
    except (InvalidStore, InsecureCallback) as error:
        click.echo(f"error: {error}", err=True)
        raise SystemExit(2) from None
    click.echo(url)
    click.echo("(open it signed in as the shop's administrator; it works once)", err=True)


def _add_subcommands() -> None:
    from plugin.cli.settings import stores_set
    from plugin.cli.whatsapp import stores_whatsapp

    stores.add_command(stores_whatsapp)
    stores.add_command(stores_set)


_add_subcommands()
