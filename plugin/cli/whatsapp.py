"""Connecting a shop's WhatsApp number and submitting the default templates."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from plugin.db import get_database
from plugin.models import Store
from plugin.stores.registry import find_store
from plugin.whatsapp import routing
from plugin.whatsapp.accounts import AccountError, connect_account
from plugin.whatsapp.templates.catalog import submit_templates


def _store(session: object, ref: str) -> Store:
    store = find_store(session, ref)  # type: ignore[arg-type]
    if store is None:
        click.echo(f"error: no store {ref!r} (see `shopnudge stores list`)", err=True)
        raise SystemExit(2)
    return store


@click.command("whatsapp", help="Connect a WhatsApp Business number to a shop.")
@click.argument("store_ref", metavar="STORE")
@click.option("--phone-number-id", required=True, help="Meta's phone number id")
@click.option("--waba-id", required=True, help="WhatsApp Business Account id")
@click.option("--token", required=True, help="system-user access token (stored encrypted)")
@with_appcontext
def stores_whatsapp(store_ref: str, phone_number_id: str, waba_id: str, token: str) -> None:
    try:
        with get_database().session() as session:
            store = _store(session, store_ref)
            account = connect_account(
                session,
                store,
                current_app.config["SHOPNUDGE"],
                phone_number_id=phone_number_id,
                waba_id=waba_id,
                token=token,
            )
            line = (
                f"{account.display_phone_number} ({account.verified_name}): quality "
                f"{account.quality_rating}, limit {account.messaging_limit_tier}, "
                f"{account.throughput_mps} msg/s"
            )
            warning = routing.warning(account)
    except AccountError as error:
        click.echo(f"error: {error}", err=True)
        raise SystemExit(2) from None
    click.echo(line)
    if warning:
        click.echo(f"warning: {warning}")


@click.group(help="WhatsApp message templates.")
def templates() -> None:
    pass


@templates.command("submit", help="Submit ShopNudge's default templates for Meta's review.")
@click.argument("store_ref", metavar="STORE")
@click.option(
    "--resubmit-deleted",
    is_flag=True,
    help="also submit again, under a new name, the defaults Meta deleted or archived",
)
@with_appcontext
def templates_submit(store_ref: str, resubmit_deleted: bool) -> None:
    try:
        with get_database().session() as session:
            store = _store(session, store_ref)
            rows = submit_templates(
                session,
                store,
                current_app.config["SHOPNUDGE"],
                resubmit_deleted=resubmit_deleted,
            )
            lines = [
                f"{row.name:<34} {row.language:<4} {row.category:<10} {row.status}"
                + (f"  {row.rejection_reason}" if row.rejection_reason else "")
                for row in rows
            ]
    except LookupError as error:
        click.echo(f"error: {error}", err=True)
        raise SystemExit(2) from None
    click.echo("\n".join(lines))
