"""`shopnudge campaigns create|preview|start|pause|cancel|show`: offers to a saved segment."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy.orm import Session

from connectors.money import from_minor
from plugin.campaigns import (
    drafts,
    forecast,
    lifecycle,
    trial,
)
from plugin.campaigns.errors import CampaignError
from plugin.campaigns.results import campaign_results
from plugin.cli.engine import parse_now
from plugin.config import Settings
from plugin.db import get_database
from plugin.models import Campaign, Store
from plugin.stores.registry import find_store


@click.group(help="Campaigns: one offer to a segment, with audience and cost known before.")
def campaigns() -> None:
    pass


def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    raise SystemExit(2)


def _store(session: Session, ref: str) -> Store:
    store = find_store(session, ref)
    if store is None:
        _fail(f"no store {ref!r} (see `shopnudge stores list`)")
    assert store is not None
    return store


def _settings() -> Settings:
    return current_app.config["SHOPNUDGE"]


def _campaign(session: Session, store: Store, campaign_id: int) -> Campaign:
    campaign = drafts.find_campaign(session, store, campaign_id)
    if campaign is None:
        _fail(f"no campaign {campaign_id} in this shop")
    assert campaign is not None
    return campaign


@campaigns.command("create", help="Create a campaign (a draft); prints its id.")
@click.argument("store_ref", metavar="STORE")
@click.option("--name", required=True)
@click.option("--template", required=True, help="An approved MARKETING template's name.")
@click.option("--segment", "segment_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--holdout", type=float, default=0.0, help="Percent of the audience held out.")
@click.option("--coupon", help="One coupon code for everybody.")
@click.option(
    "--unique-coupon",
    "unique_coupon_percent",
    type=int,
    help="A single-use code per recipient, PERCENT off, created on Shopify or WooCommerce.",
)
@click.option("--window", default="10:00-19:00", help="Send window in the buyer's own time.")
@click.option("--spread-hours", type=int, default=0, help="Spread the sends over N hours.")
@click.option("--link", "link_url", help="Where the template's link leads (default: the shop).")
@with_appcontext
def create(store_ref: str, segment_file: str | None, **options: Any) -> None:
    segment = None
    if segment_file:
        try:
            segment = json.loads(Path(segment_file).read_text(encoding="utf-8"))
        except ValueError as error:
            _fail(f"segment: not JSON: {error}")
    with get_database().session() as session:
        store = _store(session, store_ref)
        try:
            campaign = drafts.create_campaign(
                session,
                store,
                name=options["name"],
                template=options["template"],
                segment=segment,
                holdout_percent=options["holdout"],
                coupon=options["coupon"],
                unique_coupon_percent=options["unique_coupon_percent"],
                window=options["window"],
                spread_hours=options["spread_hours"],
                link_url=options["link_url"],
            )
        except CampaignError as error:
            _fail(str(error))
        campaign_id = campaign.id
    click.echo(campaign_id)


def _money(micros: int) -> str:
    return f"{(micros + 5_000) // 10_000 / 100:.2f}"


@campaigns.command("preview", help="Audience after every guard, exclusions and forecast cost.")
@click.argument("store_ref", metavar="STORE")
@click.argument("campaign_id", type=int, metavar="ID")
@click.option("--json", "as_json", is_flag=True)
@click.option("--now", "now_text", metavar="ISO-8601", help="Fix the clock (default: now).")
@with_appcontext
def preview(store_ref: str, campaign_id: int, as_json: bool, now_text: str | None) -> None:
    with get_database().session() as session:
        store = _store(session, store_ref)
        campaign = _campaign(session, store, campaign_id)
        figures = forecast.preview(session, _settings(), store, campaign, parse_now(now_text))
    if as_json:
        click.echo(json.dumps(figures, indent=2))
        return
    click.echo(f"segment: {figures['segment_size']}  audience: {figures['audience']}")
    for reason, count in figures["excluded"].items():
        click.echo(f"  excluded ({reason}): {count}")
    for country, entry in sorted(figures["by_country"].items()):
        cost = _money(entry["cost_micros"])
        click.echo(f"  {country}: {entry['recipients']} recipients, {cost} {entry['currency']}")
    for currency, micros in sorted(figures["cost_micros"].items()):
        click.echo(f"forecast cost: {_money(micros)} {currency}")
    if figures["budget_share_percent"] is not None:
        click.echo(f"share of the monthly budget: {figures['budget_share_percent']} %")


@campaigns.command("start", help="Compose it into the outbox (once), or resume a paused one.")
@click.argument("store_ref", metavar="STORE")
@click.argument("campaign_id", type=int, metavar="ID")
@click.option("--at", "at_text", metavar="ISO-8601", help="When sending begins (default: now).")
@click.option("--now", "now_text", metavar="ISO-8601", help="Fix the clock (default: now).")
@with_appcontext
def start(store_ref: str, campaign_id: int, at_text: str | None, now_text: str | None) -> None:
    now = parse_now(now_text)
    at = parse_now(at_text) if at_text else None
    with get_database().session() as session:
        store = _store(session, store_ref)
        campaign = _campaign(session, store, campaign_id)
        try:
            pending = lifecycle.start_campaign(session, _settings(), store, campaign, now, at)
        except CampaignError as error:
            _fail(str(error))
    click.echo(f"campaign {campaign_id}: running, {pending} messages waiting to be sent")


@campaigns.command("test-send", help="Send one to your own (opted-in) number; not counted.")
@click.argument("store_ref", metavar="STORE")
@click.argument("campaign_id", type=int, metavar="ID")
@click.option("--to", "phone", required=True, help="Your number; it must have opted in.")
@click.option("--now", "now_text", metavar="ISO-8601", help="Fix the clock (default: now).")
@with_appcontext
def test_send(store_ref: str, campaign_id: int, phone: str, now_text: str | None) -> None:
    with get_database().session() as session:
        store = _store(session, store_ref)
        campaign = _campaign(session, store, campaign_id)
        try:
            row = trial.send_test(session, _settings(), store, campaign, phone, parse_now(now_text))
        except CampaignError as error:
            _fail(str(error))
            return
        session.commit()
        click.echo(f"test message {row.id}: {row.state}, goes with the next dispatch")


@campaigns.command("pause", help="Hold every message not yet sent (start resumes).")
@click.argument("store_ref", metavar="STORE")
@click.argument("campaign_id", type=int, metavar="ID")
@with_appcontext
def pause(store_ref: str, campaign_id: int) -> None:
    _stop(store_ref, campaign_id, lifecycle.pause_campaign, "paused")


@campaigns.command("cancel", help="End every message not yet sent, for good.")
@click.argument("store_ref", metavar="STORE")
@click.argument("campaign_id", type=int, metavar="ID")
@with_appcontext
def cancel(store_ref: str, campaign_id: int) -> None:
    _stop(store_ref, campaign_id, lifecycle.cancel_campaign, "cancelled")


def _stop(store_ref: str, campaign_id: int, action: Any, word: str) -> None:
    with get_database().session() as session:
        store = _store(session, store_ref)
        campaign = _campaign(session, store, campaign_id)
        try:
            held = action(session, store, campaign, parse_now(None))
        except CampaignError as error:
            _fail(str(error))
    click.echo(f"campaign {campaign_id}: {word}, {held} unsent messages held")


@campaigns.command("show", help="Sent, delivered, read, failed, opted out, orders, holdout.")
@click.argument("store_ref", metavar="STORE")
@click.argument("campaign_id", type=int, metavar="ID")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def show(store_ref: str, campaign_id: int, as_json: bool) -> None:
    with get_database().session() as session:
        store = _store(session, store_ref)
        results = campaign_results(session, store, _campaign(session, store, campaign_id))
    if as_json:
        click.echo(json.dumps(results, indent=2))
        return
    click.echo(f"{results['name']} ({results['status']}), template {results['template']}")
    for key in ("pending", "sent", "delivered", "read", "opted_out", "orders"):
        click.echo(f"  {key}: {results[key]}")
    for reason, count in results["failed"].items():
        click.echo(f"  failed ({reason}): {count}")
    for currency, minor in results["revenue_minor"].items():
        click.echo(f"  revenue: {from_minor(minor, currency)} {currency}")
    for group, figures in results["holdout"].items():
        click.echo(f"  {group}: {figures['ordered']} of {figures['buyers']} ordered")
