"""Registering and listing shops."""

from __future__ import annotations

import json
from typing import Any

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select

from plugin.db import get_database
from plugin.models import Platform, Store, StoreStatus
from plugin.stores.registry import InvalidStore, add_store


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
    from plugin.stores.registry import find_store
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
    from plugin.woocommerce.install import InsecureCallback, start_connect

    try:
        with get_database().session() as session:
            url = start_connect(session, current_app.config["SHOPNUDGE"], site_url)
    except (InvalidStore, InsecureCallback) as error:
        click.echo(f"error: {error}", err=True)
        raise SystemExit(2) from None
    click.echo(url)
    click.echo("(open it signed in as the shop's administrator; it works once)", err=True)


def _find(session: Any, store_ref: str) -> Store:
    from plugin.stores.registry import find_store

    store = find_store(session, store_ref)
    if store is None:
        click.echo(f"error: no store {store_ref!r} (see `shopnudge stores list`)", err=True)
        raise SystemExit(2)
    return store


@stores.command("update", help="Correct a shop's address, keys, webhook secret or name.")
@click.argument("store_ref", metavar="STORE")
@click.option("--domain", help="the shop's corrected address")
@click.option("--token", help="Shopify Admin API access token")
@click.option("--consumer-key", help="WooCommerce REST consumer key")
@click.option("--consumer-secret", help="WooCommerce REST consumer secret")
@click.option("--webhook-secret", help="secret the platform signs webhooks with")
@click.option("--name", help="business name shown to buyers")
@with_appcontext
def stores_update(store_ref: str, **changes: str | None) -> None:
    """Audited like `stores set`; a WooCommerce shop's webhooks are set up again by the job."""
    from plugin.stores.registry import update_store
    from plugin.woocommerce.setup import request_setup

    if all(value is None for value in changes.values()):
        click.echo("error: nothing to change (see `shopnudge stores update --help`)", err=True)
        raise SystemExit(2)
    try:
        with get_database().session() as session:
            store = _find(session, store_ref)
            changed = update_store(
                session, current_app.config["SHOPNUDGE"], store, "command line", **changes
            )
            if changed and store.platform == Platform.WOOCOMMERCE and store.credentials:
                # webhooks on the corrected shop, and a new secret told to those it has
                request_setup(session, store, secret_changed="webhook_secret" in changed)
            summary = f"store {store.id}: " + (
                ", ".join(changed) + " changed" if changed else "unchanged"
            )
    except InvalidStore as error:
        click.echo(f"error: {error}", err=True)
        raise SystemExit(2) from None
    click.echo(summary)


@stores.command("remove", help="Stop a shop, delete the webhooks ShopNudge made; consent stays.")
@click.argument("store_ref", metavar="STORE")
@with_appcontext
def stores_remove(store_ref: str) -> None:
    """The consent ledger is kept (plugin.consent.retention says why); nothing is sent again."""
    from connectors.errors import PlatformError
    from plugin.stores.registry import mark_removed
    from plugin.woocommerce.client import client_for, delivery_url, remove_webhooks

    settings = current_app.config["SHOPNUDGE"]
    with get_database().session() as session:
        store = _find(session, store_ref)
        if store.status == StoreStatus.UNINSTALLED:
            click.echo(f"store {store.id} was already removed")
            return
        removed, failure = 0, None
        if store.platform == Platform.WOOCOMMERCE and store.credentials:
            url = delivery_url(store, settings)
            try:
                removed = remove_webhooks(client_for(store, settings), url)
            except PlatformError as error:
                failure = f"{error}; delete the webhooks to {url} in WooCommerce by hand"
        mark_removed(session, store, "command line")
        store_id = store.id
    if failure:
        click.echo(f"warning: webhooks not removed: {failure}", err=True)
    click.echo(f"store {store_id} removed; {removed} webhooks deleted; its consent ledger is kept")


def _add_subcommands() -> None:
    from plugin.cli.settings import stores_set
    from plugin.cli.whatsapp import stores_whatsapp

    stores.add_command(stores_whatsapp)
    stores.add_command(stores_set)


_add_subcommands()
