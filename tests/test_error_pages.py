"""Error pages for people: in their language, branded for owners, a way out for buyers."""

from __future__ import annotations

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from tests.factories import make_store
from tests.owner import sign_in

GERMAN = {"Accept-Language": "de-DE,de;q=0.9"}


def test_an_unknown_owner_page_answers_in_german_with_a_way_back(
    client: FlaskClient, session: Session
) -> None:
    store = make_store(session)
    sign_in(client, session, store)

    response = client.get("/app/nothing-here", headers=GERMAN)
    html = response.get_data(as_text=True)

    assert response.status_code == 404
    assert '<html lang="de">' in html
    assert "<h1>Seite nicht gefunden</h1>" in html
    assert '<a href="/app/">Zurück zur Übersicht</a>' in html
    assert "Not Found" not in html


def test_a_bad_tracked_link_offers_stopp_and_names_no_product(client: FlaskClient) -> None:
    response = client.get("/r/not-a-token", headers=GERMAN)
    html = response.get_data(as_text=True)

    assert response.status_code == 404
    assert (
        '<p data-way-out="stopp">Um WhatsApp-Nachrichten eines Shops abzubestellen, antworten '
        "Sie auf eine seiner Nachrichten mit STOPP.</p>"
    ) in html
    assert "ShopNudge" not in html


def test_a_bad_restore_link_names_the_shop_it_came_from(
    client: FlaskClient, session: Session
) -> None:
    store = make_store(session, name="Bohne & Blatt")
    session.commit()

    response = client.get(f"/carts/{store.public_key}/no-such-cart/restore")
    html = response.get_data(as_text=True)

    assert response.status_code == 404
    assert '<span class="brand">Bohne &amp; Blatt</span>' in html
    assert "<h1>Page not found</h1>" in html
    assert "ShopNudge" not in html


def test_api_errors_stay_json(client: FlaskClient) -> None:
    response = client.get("/api/v1/nothing-here", headers=GERMAN)

    assert response.status_code == 404
    assert response.json == {
        "error": "not_found",
        "message": (
            "The requested URL was not found on the server. If you entered the URL manually "
            "please check your spelling and try again."
        ),
    }


def test_a_wrong_method_page_keeps_its_allow_header(client: FlaskClient) -> None:
    response = client.delete("/r/some-token", headers=GERMAN)

    assert response.status_code == 405
    assert sorted(response.headers["Allow"].split(", ")) == ["GET", "HEAD", "OPTIONS"]
    assert "<h1>Das hat nicht geklappt</h1>" in response.get_data(as_text=True)
