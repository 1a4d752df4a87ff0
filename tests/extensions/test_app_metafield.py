"""ShopNudge writes the storefront pieces' configuration into the shop (app-data metafield)."""

from __future__ import annotations

import json

from flask import Flask
from sqlalchemy.orm import Session

from plugin.consent.wording import add_wording_version
from plugin.models import Store
from plugin.shopify.app_metafield import last_write, write_app_metafield
from tests.fakes.shopify import FakeShopify

INSTALLATION = ("gid://shopify/AppInstallation/1", "shopnudge", "storefront")
SHOP = ("gid://shopify/Shop/1", "$app:shopnudge", "storefront")


def test_the_metafield_names_the_server_the_key_and_the_current_wording(
    app: Flask, session: Session, shop: Store, fake: FakeShopify
) -> None:
    assert write_app_metafield(session, app.config["SHOPNUDGE"], shop) is True

    assert set(fake.metafields) == {INSTALLATION, SHOP}
    assert fake.metafields[INSTALLATION]["type"] == "json"
    value = json.loads(fake.metafields[INSTALLATION]["value"])
    assert value["server"] == "https://nudge.example.com"
    assert value["store"] == shop.public_key
    assert value["proxy"] == "/apps/shopnudge"
    assert sorted(value["wordings"]) == ["de", "en"]
    assert value["wordings"]["de"]["version"] == 1
    assert fake.metafields[SHOP]["value"] == fake.metafields[INSTALLATION]["value"]
    assert [r.errors for r in fake.refused] == []
    assert last_write(session, shop).new_value == {"written": True, "locales": ["de", "en"]}


def test_a_wording_change_is_written_again_with_its_new_version(
    app: Flask, session: Session, shop: Store, fake: FakeShopify
) -> None:
    write_app_metafield(session, app.config["SHOPNUDGE"], shop)
    add_wording_version(
        session, shop, "de", "Ja, schreibt mir auf WhatsApp. STOPP beendet es.", "o"
    )

    write_app_metafield(session, app.config["SHOPNUDGE"], shop)

    value = json.loads(fake.metafields[INSTALLATION]["value"])
    assert value["wordings"]["de"] == {
        "version": 2,
        "text": "Ja, schreibt mir auf WhatsApp. STOPP beendet es.",
        "privacy_url": "",
    }


def test_a_shop_without_a_valid_token_is_noted_and_nothing_is_written(
    app: Flask, session: Session, shop: Store, fake: FakeShopify
) -> None:
    shop.credentials = {"access_token": "shpat_revoked"}

    assert write_app_metafield(session, app.config["SHOPNUDGE"], shop) is False

    assert fake.metafields == {}
    assert last_write(session, shop).new_value["written"] is False
