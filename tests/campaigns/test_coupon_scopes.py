"""Unique coupons on a Shopify shop installed before ShopNudge asked for `write_discounts`.

Shopify refuses discountCodeBasicCreate without that scope (the fake does as Shopify). ShopNudge
asks Shopify which scopes the shop granted before it composes or sends anything, and tells the
owner how to grant it, instead of failing at the first code; once granted, the campaign starts.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from plugin.campaigns import drafts
from plugin.models import Campaign, CampaignStatus, Notification, Store
from tests.campaigns.test_campaign_pages import start_form
from tests.campaigns.test_campaigns import CONFIRMED, NOW
from tests.campaigns.test_unique_coupons import BODY, BUTTONS
from tests.factories import make_store, make_subscription, make_template, make_whatsapp_account
from tests.fakes.shopify import FakeShopify
from tests.owner import csrf_headers, csrf_token, sign_in

API = "/api/v1/admin/campaigns"
#: What ShopNudge asked for before unique coupons (and a shop installed then granted).
EARLIER_SCOPES = "read_products,read_customers,write_customers,read_orders,write_app_proxy"
LINK = "https://tea-house.myshopify.com/admin/apps/fake-key"


@pytest.fixture
def shopify() -> Iterator[FakeShopify]:
    with FakeShopify(scopes=EARLIER_SCOPES) as fake:
        yield fake


@pytest.fixture
def app_overrides(shopify: FakeShopify) -> dict[str, Any]:
    return {"shopify_base_url": shopify.url, "shopify_api_key": shopify.api_key,
            "shopify_api_secret": shopify.secret}  # fmt: skip


def earlier_shop(session: Session, shopify: FakeShopify) -> tuple[Store, Campaign]:
    """A shop installed with the earlier scopes, and a draft with a 15 % code per buyer."""
    store = make_store(
        session, domain=shopify.domain, credentials={"access_token": shopify.issue_token()}
    )
    make_whatsapp_account(session, store)
    make_template(session, store, "campaign", name="winter_code", components=[BODY, BUTTONS])
    for phone in CONFIRMED:
        make_subscription(session, store, phone, confirmed_at=NOW - dt.timedelta(days=30))
    campaign = drafts.create_campaign(
        session, store, name="Winter", template="winter_code", unique_coupon_percent=15
    )
    session.commit()
    return store, campaign


def outbox(session: Session) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(Notification)) or 0


def test_api_start_without_write_discounts_is_refused_with_how_to_grant_and_starts_once_granted(
    client: FlaskClient, session: Session, shopify: FakeShopify
) -> None:
    # given a shop that granted the earlier scopes only, and its owner signed in
    store, campaign = earlier_shop(session, shopify)
    sign_in(client, session, store)
    headers = csrf_headers(client)

    # when the owner starts the unique-coupon campaign
    refused = client.post(f"{API}/{campaign.id}/start", headers=headers)

    # then 409 saying which permission is missing and where to approve it
    assert refused.status_code == 409
    message = refused.get_json()["message"]
    assert message.startswith(
        "the shop has not allowed ShopNudge to create discount codes (Shopify access scope "
        "write_discounts), so no unique codes can be made and nothing was sent."
    )
    assert f"open ShopNudge in the shop's admin ({LINK})" in message
    # and nothing was composed, sent or tried on Shopify: only the grant was asked
    assert outbox(session) == 0
    assert session.get(Campaign, campaign.id).status == CampaignStatus.DRAFT  # type: ignore[union-attr]
    assert shopify.operations == ["GrantedScopes"]
    assert shopify.discounts == {} and shopify.denied == []

    # when the owner approves the new permission and starts again
    shopify.grant(EARLIER_SCOPES + ",write_discounts")
    started = client.post(f"{API}/{campaign.id}/start", headers=headers)

    # then it runs with one code per buyer, created on Shopify
    assert started.status_code == 200, started.get_data(as_text=True)
    assert started.get_json()["pending"] == len(CONFIRMED)
    assert len(shopify.discounts) == len(CONFIRMED) == outbox(session)
    assert shopify.denied == []


def test_api_test_send_without_write_discounts_is_refused_and_queues_nothing(
    client: FlaskClient, session: Session, shopify: FakeShopify
) -> None:
    store, campaign = earlier_shop(session, shopify)
    sign_in(client, session, store)

    refused = client.post(
        f"{API}/{campaign.id}/test-send",
        json={"phone": CONFIRMED[0]},
        headers=csrf_headers(client),
    )

    assert refused.status_code == 409
    assert "write_discounts" in refused.get_json()["message"]
    assert outbox(session) == 0
    assert shopify.operations == ["GrantedScopes"] and shopify.discounts == {}


def test_cli_start_without_write_discounts_fails_with_the_message_and_composes_nothing(
    runner: FlaskCliRunner, session: Session, shopify: FakeShopify
) -> None:
    store, campaign = earlier_shop(session, shopify)

    result = runner.invoke(args=["campaigns", "start", str(store.id), str(campaign.id)])

    assert result.exit_code != 0
    assert "Shopify access scope write_discounts" in result.output
    assert LINK in result.output
    assert outbox(session) == 0 and shopify.discounts == {}


def test_pages_say_in_german_how_to_grant_it_on_start_and_test_send(
    client: FlaskClient, session: Session, shopify: FakeShopify
) -> None:
    # given the draft's page in German
    store, campaign = earlier_shop(session, shopify)
    sign_in(client, session, store)
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "de"
    location = f"/app/campaigns/{campaign.id}"
    page = client.get(location).get_data(as_text=True)
    action, fields = start_form(page)

    # when the owner confirms the start, then sends a test to their own confirmed number
    started = client.post(action, data=fields)
    after_start = html.unescape(client.get(location).get_data(as_text=True))
    tested = client.post(
        f"{location}/test-send", data={"phone": CONFIRMED[0], "csrf_token": csrf_token(page)}
    )

    # then both say, in German, what is missing and where to approve it; nothing was sent
    words = (
        "Shopify erlaubt ShopNudge in diesem Shop noch nicht, Rabattcodes anzulegen, deshalb "
        f"wurde nichts gesendet. Öffne ShopNudge in deinem Shopify-Adminbereich ({LINK}) und "
        "bestätige die Berechtigung, um die Shopify bittet (Rabatte)"
    )
    assert started.status_code == 302
    assert words in after_start
    assert tested.status_code == 422
    assert words in html.unescape(tested.get_data(as_text=True))
    assert outbox(session) == 0 and shopify.discounts == {}


def test_settings_and_composer_say_ahead_when_the_kept_grant_lacks_write_discounts(
    client: FlaskClient, session: Session, shopify: FakeShopify
) -> None:
    # given a shop whose install answer (kept on the shop) granted the earlier scopes
    store, _ = earlier_shop(session, shopify)
    store.credentials = {**store.credentials, "scope": EARLIER_SCOPES}
    session.commit()
    sign_in(client, session, store)
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "de"

    # when the owner opens the settings page and the composer
    pages = [client.get(path) for path in ("/app/settings", "/app/campaigns/new")]

    # then both say in German what is missing and where to approve it, asking Shopify nothing
    note = (
        '<p class="note" data-notice="write_discounts">Shopify erlaubt ShopNudge in diesem Shop '
        "noch nicht, Rabattcodes anzulegen, deshalb kann eine Kampagne nicht jedem Käufer einen "
        f"eigenen Code geben. Öffne ShopNudge in deinem Shopify-Adminbereich ({LINK})"
    )
    for page in pages:
        assert page.status_code == 200
        assert note in html.unescape(page.get_data(as_text=True))
    assert '<h2 id="shopify-access-h">Shopify-Berechtigungen</h2>' in pages[0].get_data(
        as_text=True
    )
    assert shopify.requests == []


@pytest.mark.parametrize("scope", [EARLIER_SCOPES + ",write_discounts", None])
def test_no_note_when_the_grant_has_write_discounts_or_is_not_known(
    client: FlaskClient, session: Session, shopify: FakeShopify, scope: str | None
) -> None:
    # given a shop that granted write_discounts, or whose grant was never told (a pasted token)
    store, _ = earlier_shop(session, shopify)
    if scope is not None:
        store.credentials = {**store.credentials, "scope": scope}
        session.commit()
    sign_in(client, session, store)

    pages = [client.get(path) for path in ("/app/settings", "/app/campaigns/new")]

    for page in pages:
        assert page.status_code == 200
        assert 'data-notice="write_discounts"' not in page.get_data(as_text=True)
