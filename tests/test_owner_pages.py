"""Outbox browser and consent lookup."""

from __future__ import annotations

import datetime as dt

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from plugin.consent.wording import add_wording_version
from plugin.models import ConsentEvent
from tests.factories import make_notification, make_store, make_subscription
from tests.owner import sign_in


def test_outbox_filters_by_state_flow_and_skip_reason(
    client: FlaskClient, session: Session
) -> None:
    store = make_store(session)
    make_notification(
        session, store, "1", template_name="tpl_holdout", state="skipped", reason="holdout"
    )
    make_notification(
        session, store, "2", template_name="tpl_quiet", state="skipped", reason="quiet_hours"
    )
    make_notification(
        session, store, "3", template_name="tpl_reco", state="sent", flow="recommendation"
    )
    sign_in(client, session, store)

    holdout = client.get("/app/outbox?state=skipped&reason=holdout").get_data(as_text=True)
    recommendations = client.get("/app/outbox?flow=recommendation").get_data(as_text=True)

    assert ("tpl_holdout" in holdout, "tpl_quiet" in holdout, "tpl_reco" in holdout) == (
        True,
        False,
        False,
    )
    assert ("tpl_holdout" in recommendations, "tpl_reco" in recommendations) == (False, True)
    assert '<option value="quiet_hours" >Quiet hours (1 message)</option>' in holdout


def test_consent_lookup_shows_the_exact_wording_and_version_as_proof(
    client: FlaskClient, session: Session
) -> None:
    store = make_store(session, name="Bohne & Blatt")
    add_wording_version(session, store, "de", "Alte Fassung mit WhatsApp, STOPP.", "test")
    shown = add_wording_version(
        session, store, "de", "Ja, Bohne & Blatt darf mir per WhatsApp schreiben. STOPP.", "test"
    )
    subscription = make_subscription(session, store, phone="+4915112345678")
    session.add(
        ConsentEvent(
            store_id=store.id,
            subscription_id=subscription.id,
            kind="requested",
            source="widget",
            wording_id=shown.id,
            locale="de",
            ip="203.0.113.9",
            occurred_at=dt.datetime(2026, 11, 20, 9, 30, tzinfo=dt.UTC),
        )
    )
    session.commit()
    sign_in(client, session, store)

    found = client.get("/app/consent?phone=0151 12345678")
    html = client.get(found.headers["Location"]).get_data(as_text=True)

    assert found.status_code == 302
    assert found.headers["Location"] == "/app/consent/+4915112345678"
    assert f'data-wording-id="{shown.id}" data-version="2"' in html
    assert "Ja, Bohne &amp; Blatt darf mir per WhatsApp schreiben. STOPP." in html
    assert "Alte Fassung" not in html
    assert "203.0.113.9" in html


def test_consent_lookup_says_when_a_number_is_not_valid(
    client: FlaskClient, session: Session
) -> None:
    store = make_store(session)
    sign_in(client, session, store)

    response = client.get("/app/consent?phone=12")

    assert response.status_code == 422
    assert "This is not a valid phone number." in response.get_data(as_text=True)


def test_consent_lookup_of_an_unknown_number_is_404(client: FlaskClient, session: Session) -> None:
    store = make_store(session)
    sign_in(client, session, store)

    assert client.get("/app/consent/+4915100000000").status_code == 404
