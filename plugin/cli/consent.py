"""`shopnudge subscriptions show|erase STORE PHONE`: a number's consent ledger, or its erasure."""

from __future__ import annotations

import json

import click
from flask.cli import with_appcontext
from sqlalchemy.orm import Session

from plugin.consent import gdpr
from plugin.consent.proof import consent_record
from plugin.db import get_database
from plugin.models import Store
from plugin.phones import InvalidPhone, parse_phone
from plugin.stores.registry import find_store


@click.group(help="Buyers' WhatsApp subscriptions and their proof of consent.")
def subscriptions() -> None:
    pass


def _store_and_number(session: Session, store_ref: str, phone: str) -> tuple[Store, str]:
    """The shop and the buyer's E.164 number, or exit 2 with one line saying what is wrong."""
    store = find_store(session, store_ref)
    if store is None:
        click.echo(f"error: no store {store_ref!r} (see `shopnudge stores list`)", err=True)
        raise SystemExit(2)
    try:
        return store, parse_phone(phone, store.country, mobile_only=False)
    except InvalidPhone as error:
        click.echo(f"error: {error.reason}: {error}", err=True)
        raise SystemExit(2) from None


@subscriptions.command("show", help="State (pending, confirmed, opted_out) and every event.")
@click.argument("store_ref", metavar="STORE")
@click.argument("phone")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a listing.")
@with_appcontext
def show(store_ref: str, phone: str, as_json: bool) -> None:
    with get_database().session() as session:
        store, number = _store_and_number(session, store_ref, phone)
        record = consent_record(session, store, number)
    if record is None:
        click.echo(f"error: no subscription for {number} in this shop", err=True)
        raise SystemExit(1)
    if as_json:
        click.echo(json.dumps(record, indent=2, ensure_ascii=False))
        return
    click.echo(f"{record['phone']}  state: {record['state']}")
    for event in record["events"]:
        click.echo(f"- {event['occurred_at']}  {event['kind']:<10} via {event['source']}")
        wording = event["wording"]
        if wording:
            click.echo(
                f"    wording v{wording['version']} ({wording['locale']}): {wording['text']}"
            )
        for name in ("ip", "user_agent", "message_id"):
            if event[name]:
                click.echo(f"    {name}: {event[name]}")


@subscriptions.command("erase", help="Erase one buyer's personal data on the owner's request.")
@click.argument("store_ref", metavar="STORE")
@click.argument("phone")
@with_appcontext
def erase(store_ref: str, phone: str) -> None:
    """Everything held about the number goes (audited); what stays is anonymous."""
    with get_database().session() as session:
        store, number = _store_and_number(session, store_ref, phone)
        if gdpr.erase_on_request(session, store, number, actor="command line") is None:
            click.echo("error: nothing is held about this number in this shop", err=True)
            raise SystemExit(2)
        session.commit()
    click.echo("erased: this buyer's data is gone")
