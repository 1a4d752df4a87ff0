"""A WooCommerce shop's own currency, country and time zone: read at connect and on each sync,
kept where the owner set their own, and used to read the numbers its buyers type."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin.consent.wording import ensure_default_wordings
from plugin.models import AuditEntry, Cart, Store, Variant
from tests.fakes.woocommerce import FakeWooCommerce
from tests.woocommerce.conftest import connect_store
from tests.woocommerce.test_connect import approve_on_the_shop, tick


def profile(session: Session, store_id: int) -> tuple[str, str, str]:
    session.expire_all()
    store = session.get(Store, store_id)
    assert store is not None
    return store.currency, store.country, store.timezone


def sync(runner: FlaskCliRunner, store_id: int) -> None:
    result = runner.invoke(args=["sync", str(store_id)])
    assert result.exit_code == 0, result.output


def test_connect_takes_the_shops_currency_country_and_time_zone(
    app: Flask,
    session: Session,
    runner: FlaskCliRunner,
    make_woo: Callable[..., FakeWooCommerce],
    live: str,
) -> None:
    # given a shop in California that sells in dollars
    woo = make_woo(currency="USD", country="US:CA", timezone="America/Los_Angeles")
    # when its owner connects it and the set-up job runs
    assert approve_on_the_shop(app, session, woo).status_code == 302
    store_id = session.scalars(select(Store.id)).one()
    assert profile(session, store_id) == ("EUR", "DE", "Europe/Berlin")  # nothing read yet
    assert tick(runner, "2026-01-05T10:00:00Z").exit_code == 0
    # then the store has the shop's own, each audited as the platform's
    assert profile(session, store_id) == ("USD", "US", "America/Los_Angeles")
    audit = session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
    assert [(a.actor, a.action, a.field, a.old_value, a.new_value) for a in audit] == [
        ("woocommerce", "platform_profile", "currency", "EUR", "USD"),
        ("woocommerce", "platform_profile", "country", "DE", "US"),
        ("woocommerce", "platform_profile", "timezone", "Europe/Berlin", "America/Los_Angeles"),
    ]


def test_sync_prices_products_in_the_shops_currency_and_keeps_the_owners_overrides(
    app: Flask,
    session: Session,
    runner: FlaskCliRunner,
    make_woo: Callable[..., FakeWooCommerce],
    live: str,
) -> None:
    # given a dollar shop added by hand (no call to the shop yet)
    woo = make_woo(currency="USD", country="US:CA", timezone="America/Los_Angeles")
    woo.add_product("Espresso Beans", "12.90")
    store_id = connect_store(session, app, woo).id
    # when it syncs
    sync(runner, store_id)
    # then its prices are dollars, as its orders are
    assert profile(session, store_id) == ("USD", "US", "America/Los_Angeles")
    assert session.scalars(select(Variant.currency)).all() == ["USD"]
    # when the owner sets their own time zone and currency, and the shop moves to Britain
    for name, value in (("timezone", "America/New_York"), ("currency", "EUR")):
        result = runner.invoke(args=["stores", "set", str(store_id), name, value])
        assert result.exit_code == 0, result.output
    woo.country, woo.timezone, woo.currency = "GB", "Europe/London", "GBP"
    sync(runner, store_id)
    # then the owner's values stay, and what the owner left alone follows the shop
    assert profile(session, store_id) == ("EUR", "GB", "America/New_York")


def test_a_us_buyers_number_typed_without_prefix_is_read_in_the_shops_country(
    app: Flask,
    session: Session,
    client: FlaskClient,
    runner: FlaskCliRunner,
    make_woo: Callable[..., FakeWooCommerce],
    live: str,
) -> None:
    # given a synced US shop
    woo = make_woo(currency="USD", country="US:CA", timezone="America/Los_Angeles")
    store = connect_store(session, app, woo)
    ensure_default_wordings(session, store)
    session.commit()
    sync(runner, store.id)
    key = store.public_key
    # when a buyer types a US number as Americans write it, in the widget and in a cart
    form = client.get(f"/api/v1/stores/{key}/optin-form?locale=en").json
    optin = client.post(
        f"/api/v1/stores/{key}/optins",
        json={"phone": "(650) 253-0000", "consent": True, "locale": "en",
              "wording_version": form["wording_version"], "source": "widget"},
    )  # fmt: skip
    cart = client.post(
        f"/api/v1/stores/{key}/carts",
        json={"cart_token": "t_us", "items": [], "total_minor": 0, "currency": "USD",
              "phone": "(650) 253-0000"},
    )  # fmt: skip
    # then it is accepted as the US number it is, not refused as a German one
    assert (optin.status_code, optin.json.get("reason")) == (202, None)
    assert cart.status_code == 202
    assert client.get(f"/api/v1/stores/{key}/carts/t_us").status_code == 200
    result = runner.invoke(args=["subscriptions", "show", key, "+16502530000", "--json"])
    assert result.exit_code == 0, result.output
    assert '"state": "pending"' in result.output


def test_a_number_in_a_cart_is_read_in_the_buyers_address_country_when_the_cart_has_one(
    app: Flask, session: Session, client: FlaskClient, woo: FakeWooCommerce
) -> None:
    # given a German shop and an Austrian buyer (the Store API cart's billing country)
    store = connect_store(session, app, woo)
    api = f"/api/v1/stores/{store.public_key}/carts"
    body = {"items": [], "total_minor": 0, "currency": "EUR", "phone": "0664 1234567"}
    # when the widget posts the cart with the buyer's country, and another one without
    with_country = client.post(api, json={**body, "cart_token": "t_at", "country": "AT"})
    without = client.post(api, json={**body, "cart_token": "t_de"})
    # then the number is the Austrian mobile the buyer meant; without a country, the shop's
    # country reads it, and as a German number it is no mobile
    assert with_country.status_code == 202
    session.expire_all()
    assert session.scalars(select(Cart.phone).where(Cart.platform_id == "t_at")).one() == (
        "+436641234567"
    )
    assert (without.status_code, without.json["reason"]) == (422, "phone_not_mobile")
