"""The opt-in API keeps its shop and wording between requests: a change applies to the next one.

Each test first makes the API load (and keep) the shop and its used wording with one opt-in,
then changes something the way the owner does, then shows the very next opt-in obeys it.
"""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from plugin.consent import wording
from plugin.db import Database, get_database
from plugin.models import (
    ConsentEvent,
    Notification,
    OptinWording,
    Store,
    StoreStatus,
    Subscription,
    WhatsAppAccount,
)
from tests.factories import make_store, make_template, make_whatsapp_account
from tests.owner import csrf_token, sign_in

ORIGIN = "https://kaffee.myshopify.com"
CUSTOM_DOMAIN = "https://www.kaffee-wagner.example"


def optin_store(session: Session) -> Store:
    store = make_store(
        session,
        domain="kaffee.myshopify.com",
        name="Kaffeerösterei Wagner",
        privacy_url="https://kaffee.myshopify.com/policies/privacy-policy",
    )
    wording.ensure_default_wordings(session, store)
    make_whatsapp_account(session, store, display_phone_number="+49 30 901820")
    session.commit()
    return store


def post_optin(
    client: FlaskClient, store: Store, phone: str, origin: str = ORIGIN, **fields: Any
) -> Any:
    body = {"phone": phone, "consent": True, "wording_version": 1, "locale": "de"} | fields
    return client.post(
        f"/api/v1/stores/{store.public_key}/optins",
        json=body,
        headers={"Origin": origin, "User-Agent": "Mozilla/5.0 Firefox/145.0"},
        environ_base={"REMOTE_ADDR": "203.0.113.9"},
    )


def save_settings(
    client: FlaskClient, session: Session, store: Store, section: str, **form: Any
) -> None:
    """Post one section of the settings page, as the signed-in owner does."""
    sign_in(client, session, store)
    token = csrf_token(client.get("/app/settings").get_data(as_text=True))
    response = client.post(f"/app/settings/{section}", data={"csrf_token": token, **form})
    assert response.status_code == 302


def confirmations(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Notification)) or 0


def test_double_optin_mode_saved_by_the_owner_applies_to_the_next_optin(
    client: FlaskClient, session: Session
) -> None:
    store = optin_store(session)
    first = post_optin(client, store, "0151 23456701")
    assert first.json["confirmation"] == {"mode": "template", "url": None}
    assert confirmations(session) == 1

    save_settings(
        client,
        session,
        store,
        "business",
        name="Kaffeerösterei Wagner",
        privacy_url="https://kaffee.myshopify.com/policies/privacy-policy",
        double_optin_mode="link",
        pending_optin_days="7",
    )
    second = post_optin(client, store, "0151 23456702")

    assert second.status_code == 202
    assert second.json["confirmation"]["mode"] == "link"
    assert second.json["confirmation"]["url"].startswith("https://wa.me/4930901820?text=")
    assert confirmations(session) == 1  # no template queued for the second buyer
    session.expire_all()
    code = session.scalars(
        select(Subscription.confirmation_code).where(Subscription.phone == "+4915123456702")
    ).one()
    assert code is not None and code in second.json["confirmation"]["url"]


def test_an_origin_the_owner_adds_may_sign_up_buyers_at_once(
    client: FlaskClient, session: Session
) -> None:
    store = optin_store(session)
    refused = post_optin(client, store, "0151 23456703", origin=CUSTOM_DOMAIN)
    assert (refused.status_code, refused.json["reason"]) == (403, "origin_not_allowed")

    save_settings(
        client,
        session,
        store,
        "shop",
        timezone="Europe/Berlin",
        country="DE",
        currency="EUR",
        default_locale="de",
        storefront_origins=CUSTOM_DOMAIN,
    )
    accepted = post_optin(client, store, "0151 23456703", origin=CUSTOM_DOMAIN)

    assert accepted.status_code == 202
    assert accepted.headers["Access-Control-Allow-Origin"] == CUSTOM_DOMAIN
    assert session.scalar(select(func.count()).select_from(ConsentEvent)) == 1


def test_a_country_the_owner_changes_reads_the_next_national_number(
    client: FlaskClient, session: Session
) -> None:
    store = optin_store(session)
    assert post_optin(client, store, "0151 23456704").status_code == 202

    save_settings(
        client,
        session,
        store,
        "shop",
        timezone="Europe/Vienna",
        country="AT",
        currency="EUR",
        default_locale="de",
        storefront_origins="",
    )
    austrian = post_optin(client, store, "0664 1234567")

    assert austrian.status_code == 202
    phones = session.scalars(select(Subscription.phone).order_by(Subscription.id)).all()
    assert phones == ["+4915123456704", "+436641234567"]


def test_a_wording_the_owner_saves_makes_the_used_version_stale_at_once(
    client: FlaskClient, session: Session
) -> None:
    store = optin_store(session)
    assert post_optin(client, store, "0151 23456705").status_code == 202  # version 1 now used
    assert post_optin(client, store, "0151 23456712").status_code == 202  # … and kept
    sign_in(client, session, store)
    token = csrf_token(client.get("/app/settings").get_data(as_text=True), "wording-de-")
    text = "Ja, Kaffeerösterei Wagner darf mir WhatsApp-Nachrichten senden. Abmelden mit STOPP."
    saved = client.post(
        "/app/settings/wording/de",
        data={"wording-de-csrf_token": token, "wording-de-locale": "de", "wording-de-text": text},
    )
    assert saved.status_code == 302

    stale = post_optin(client, store, "0151 23456706", wording_version=1)
    current = post_optin(client, store, "0151 23456707", wording_version=2)

    assert (stale.status_code, stale.json["reason"]) == (422, "wording_version_stale")
    assert current.status_code == 202
    versions = dict(
        session.execute(
            select(OptinWording.version, OptinWording.id).where(OptinWording.locale == "de")
        ).all()
    )
    recorded = session.scalars(select(ConsentEvent.wording_id).order_by(ConsentEvent.id)).all()
    assert recorded == [versions[1], versions[1], versions[2]]  # the stale one wrote nothing


def test_a_version_published_by_another_process_is_accepted_from_its_first_buyer(
    app: Flask, client: FlaskClient, session: Session
) -> None:
    store = optin_store(session)
    assert post_optin(client, store, "0151 23456708").status_code == 202  # version 1 now used
    assert post_optin(client, store, "0151 23456713").status_code == 202  # … and kept here
    elsewhere = Database(get_database(app).url)  # another process: own engine, own memory
    try:
        with elsewhere.session() as other:
            shop = other.get(Store, store.id)
            assert shop is not None
            added = wording.add_wording_version(
                other, shop, "de", "Ja, Kaffeerösterei Wagner darf mir auf WhatsApp schreiben.", "x"
            )
            version, added_id = added.version, added.id
    finally:
        elsewhere.dispose()

    response = post_optin(client, store, "0151 23456709", wording_version=version)

    assert (version, response.status_code) == (2, 202)
    last = session.scalars(select(ConsentEvent).order_by(ConsentEvent.id.desc())).first()
    assert last is not None and last.wording_id == added_id


def test_an_uninstalled_shop_refuses_the_next_optin(client: FlaskClient, session: Session) -> None:
    store = optin_store(session)
    assert post_optin(client, store, "0151 23456710").status_code == 202

    store.status = StoreStatus.UNINSTALLED
    session.commit()
    refused = post_optin(client, store, "0151 23456711")

    assert refused.status_code == 404
    assert session.scalar(select(func.count()).select_from(Subscription)) == 1


def test_a_template_meta_approves_carries_the_next_confirmation(
    client: FlaskClient, session: Session
) -> None:
    store = optin_store(session)
    make_template(session, store, "optin_confirmation", "de", category="UTILITY")
    english = make_template(
        session, store, "optin_confirmation", "en", category="UTILITY", status="PENDING"
    )
    session.commit()
    for phone in ("+44 7400 123456", "+44 7400 123458"):  # the second one's choice is kept
        assert post_optin(client, store, phone, locale="en").status_code == 202

    english.status = "APPROVED"  # as the template status webhook writes it
    session.commit()
    after = post_optin(client, store, "+44 7400 123457", locale="en")

    assert after.status_code == 202
    languages = session.scalars(select(Notification.language).order_by(Notification.id)).all()
    assert languages == ["de", "de", "en"]


def test_a_new_whatsapp_number_goes_into_the_next_confirmation_link(
    client: FlaskClient, session: Session
) -> None:
    store = optin_store(session)
    store.settings = {**store.settings, "double_optin_mode": "link"}
    session.commit()
    for phone in ("0151 23456720", "0151 23456721"):  # the second one's number is kept
        assert (
            post_optin(client, store, phone)
            .json["confirmation"]["url"]
            .startswith("https://wa.me/4930901820?")
        )

    account = session.scalars(select(WhatsAppAccount)).one()
    account.display_phone_number = "+49 40 555 0100"  # the shop connected another number
    session.commit()
    answer = post_optin(client, store, "0151 23456722")

    assert answer.json["confirmation"]["url"].startswith("https://wa.me/49405550100?text=")
