"""A Shopify shop's own currency, country and time zone (`shop { currencyCode ianaTimezone
shopAddress { countryCodeV2 } }`), taken on each sync except where the owner set one."""

from __future__ import annotations

from flask.testing import FlaskCliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin.models import AuditEntry, Store
from tests.fakes.shopify import FakeShopify


def profile(session: Session, store_id: int) -> tuple[str, str, str]:
    session.expire_all()
    store = session.get(Store, store_id)
    assert store is not None
    return store.currency, store.country, store.timezone


def test_sync_takes_the_shops_currency_country_and_time_zone_and_keeps_the_owners(
    runner: FlaskCliRunner, session: Session, fake: FakeShopify, shop: Store
) -> None:
    # given a shop in New York that sells in dollars, registered with the defaults
    fake.data.currency, fake.data.country, fake.data.timezone = "USD", "US", "America/New_York"
    assert profile(session, shop.id) == ("EUR", "DE", "Europe/Berlin")
    # when it syncs
    result = runner.invoke(args=["sync", str(shop.id)])
    # then the store has the shop's own, audited as Shopify's
    assert result.exit_code == 0, result.output
    assert profile(session, shop.id) == ("USD", "US", "America/New_York")
    audit = session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
    assert [(a.actor, a.action, a.field, a.new_value) for a in audit] == [
        ("shopify", "platform_profile", "currency", "USD"),
        ("shopify", "platform_profile", "country", "US"),
        ("shopify", "platform_profile", "timezone", "America/New_York"),
    ]
    # when the owner sets their own time zone and the shop moves to Canada
    assert runner.invoke(args=["stores", "set", str(shop.id), "timezone", "UTC"]).exit_code == 0
    fake.data.country, fake.data.timezone = "CA", "America/Toronto"
    assert runner.invoke(args=["sync", str(shop.id)]).exit_code == 0
    # then the owner's time zone stays, and the country follows the shop
    assert profile(session, shop.id) == ("USD", "CA", "UTC")
