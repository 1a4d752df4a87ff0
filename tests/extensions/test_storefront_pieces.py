"""The owner's settings page says where opt-ins came from and how the storefront pieces fare."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from plugin.consent.ledger import record
from plugin.consent.wording import current_wording, ensure_default_wordings
from plugin.models import ConsentKind, Store
from plugin.shopify.app_metafield import write_app_metafield
from tests.factories import make_store
from tests.fakes.shopify import FakeShopify
from tests.owner import sign_in


def row(html: str, source: str) -> list[str]:
    """The cells of one source's row, tags stripped."""
    match = re.search(rf'<tr data-source="{source}">(.*?)</tr>', html, re.S)
    assert match, source
    cells = re.findall(r"<td>(.*?)</td>", match[1])
    return [re.sub(r"<[^>]+>", "", cell).strip() for cell in cells]


def test_a_shopify_shop_sees_its_opt_ins_per_source_and_the_metafield_written(
    app: Flask, client: FlaskClient, session: Session, shop: Store, fake: FakeShopify
) -> None:
    wording = current_wording(session, shop, "de")
    for phone in ("+4915123456789", "+4915123456790"):
        record(session, shop, phone, ConsentKind.REQUESTED, "thank_you_page", wording=wording)
    write_app_metafield(session, app.config["SHOPNUDGE"], shop)
    session.commit()
    sign_in(client, session, shop)

    html = client.get("/app/settings").text

    assert row(html, "thank_you_page")[1] == "2"
    assert row(html, "thank_you_page")[3] == "yes: an opt-in arrived through it"
    assert row(html, "widget")[1] == "0"
    assert row(html, "widget")[3] == "no opt-in yet"
    assert 'data-source="checkout_checkbox"' not in html
    piece = re.search(r'<p data-piece="app-metafield">(.*?)</p>', html, re.S)
    assert piece and "written" in piece[1] and "refused" not in piece[1]


def test_a_refused_metafield_write_is_shown_with_shopifys_reason(
    app: Flask, client: FlaskClient, session: Session, shop: Store
) -> None:
    shop.credentials = {"access_token": "shpat_revoked"}
    write_app_metafield(session, app.config["SHOPNUDGE"], shop)
    session.commit()
    sign_in(client, session, shop)

    html = client.get("/app/settings").text

    piece = re.search(r'<p data-piece="app-metafield">(.*?)</p>', html, re.S)
    assert piece and "Shopify refused it" in piece[1]


def test_a_woocommerce_shop_sees_the_checkout_checkbox_and_the_plugin_hint(
    client: FlaskClient, session: Session
) -> None:
    store = make_store(session, platform="woocommerce", domain="shop.example", name="Loop")
    ensure_default_wordings(session, store)
    session.commit()
    sign_in(client, session, store)

    html = client.get("/app/settings").text

    assert row(html, "checkout_checkbox")[1] == "0"
    assert 'data-piece="woocommerce-plugin"' in html
    assert 'data-piece="app-metafield"' not in html
