"""Pages a buyer reaches from a message: the shop's name and logo, their language, a way out."""

from __future__ import annotations

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from plugin.models import SubscriptionState
from tests.factories import make_store, make_subscription

GERMAN = {"Accept-Language": "de-DE,de;q=0.9"}
ENGLISH = {"Accept-Language": "en-GB,en;q=0.9"}


def test_a_bad_unsubscribe_link_offers_stopp_in_german_as_a_styled_page(
    client: FlaskClient,
) -> None:
    response = client.get("/u/not-a-token", headers=GERMAN)
    html = response.get_data(as_text=True)

    assert response.status_code == 404
    assert '<html lang="de">' in html
    assert "<h1>Von WhatsApp-Nachrichten abmelden</h1>" in html
    assert "<p>Dieser Abmeldelink ist nicht (mehr) gültig.</p>" in html
    assert (
        '<p data-way-out="stopp">Um WhatsApp-Nachrichten eines Shops abzubestellen, antworten '
        "Sie auf eine seiner Nachrichten mit STOPP.</p>"
    ) in html
    assert 'href="/static/shopnudge.css' in html
    assert "ShopNudge" not in html


def test_a_bad_unsubscribe_link_offers_stop_in_english(client: FlaskClient) -> None:
    html = client.post("/u/not-a-token", headers=ENGLISH).get_data(as_text=True)

    assert '<html lang="en">' in html
    assert "<p>This unsubscribe link is not valid (any more).</p>" in html
    assert (
        '<p data-way-out="stopp">To stop WhatsApp messages from a shop, reply STOP to any of '
        "its messages.</p>"
    ) in html
    assert "ShopNudge" not in html


def test_the_unsubscribe_page_carries_the_shops_name_and_logo_not_shopnudge(
    client: FlaskClient, session: Session
) -> None:
    store = make_store(
        session, name="Bohne & Blatt", settings={"logo_url": "https://cdn.example/logo.png"}
    )
    subscription = make_subscription(session, store, locale="de")
    session.commit()

    html = client.get(f"/u/{subscription.unsubscribe_token}", headers=ENGLISH).text

    assert "<title>Von WhatsApp-Nachrichten abmelden · Bohne &amp; Blatt</title>" in html
    assert (
        '<span class="brand"><img class="logo" src="https://cdn.example/logo.png" alt="">'
        "Bohne &amp; Blatt</span>"
    ) in html
    assert "Möchten Sie keine WhatsApp-Nachrichten mehr von Bohne &amp; Blatt erhalten?" in html
    assert "ShopNudge" not in html


def test_the_unsubscribe_page_speaks_the_language_the_buyer_signed_up_in(
    client: FlaskClient, session: Session
) -> None:
    store = make_store(session, name="Tea Corner", default_locale="de")
    subscription = make_subscription(session, store, locale="en-GB")
    session.commit()

    page = client.get(f"/u/{subscription.unsubscribe_token}", headers=GERMAN).text
    done = client.post(f"/u/{subscription.unsubscribe_token}", headers=GERMAN).text

    assert '<html lang="en">' in page
    assert "Do you want to stop WhatsApp messages from Tea Corner?" in page
    assert "Done: Tea Corner will not send you WhatsApp marketing messages any more." in done
    assert "abmelden" not in done.lower()
    session.refresh(subscription)
    assert subscription.state == SubscriptionState.OPTED_OUT


def test_a_shop_without_a_logo_shows_its_name_only(client: FlaskClient, session: Session) -> None:
    store = make_store(session, name="Kaffeerösterei Wagner")
    subscription = make_subscription(session, store, locale="de")
    session.commit()

    html = client.get(f"/u/{subscription.unsubscribe_token}").text

    assert '<span class="brand">Kaffeerösterei Wagner</span>' in html
    assert "<img" not in html
