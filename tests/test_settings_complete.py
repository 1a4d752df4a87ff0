"""Every setting the engine reads can be set on the settings page and by `stores set`."""

from __future__ import annotations

import re

from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin.models import AuditEntry, Store
from plugin.stores.settings import PARSERS
from plugin.whatsapp.pricing import expected_cost
from tests.factories import make_store
from tests.owner import csrf_token, sign_in

#: Settings whose form fields carry another name (money in units, steps in rows, days as boxes).
FIELD_NAMES = {
    "monthly_budget_minor": "monthly_budget",
    "reminder_steps": "delay_1",
}
SHOP = {
    "timezone": "America/New_York",
    "country": "us",
    "currency": "usd",
    "default_locale": "en-US",
    "storefront_origins": "https://Shop.Example.com\nhttps://www.example.com/",
}


def _audit(session: Session, store: Store) -> list[tuple[str, object, object]]:
    session.expire_all()
    rows = session.scalars(
        select(AuditEntry).where(AuditEntry.store_id == store.id).order_by(AuditEntry.id)
    )
    return [(e.field, e.old_value, e.new_value) for e in rows]


def test_every_setting_the_engine_reads_has_a_field_on_the_page(
    client: FlaskClient, session: Session
) -> None:
    store = make_store(session)
    sign_in(client, session, store)

    html = client.get("/app/settings").get_data(as_text=True)
    names = set(re.findall(r'name="([a-z_0-9]+)"', html))

    missing = {key for key in PARSERS if FIELD_NAMES.get(key, key) not in names}
    assert missing == set()


def test_time_zone_origins_and_shop_facts_are_saved_normalised_and_audited(
    client: FlaskClient, session: Session
) -> None:
    store = make_store(session)
    sign_in(client, session, store)
    token = csrf_token(client.get("/app/settings").get_data(as_text=True))

    response = client.post("/app/settings/shop", data={"csrf_token": token, **SHOP})

    assert response.status_code == 302, re.findall(r'class="error">([^<]*)<', response.text)
    assert response.headers["Location"] == "/app/settings#shop"
    assert _audit(session, store) == [
        ("timezone", "Europe/Berlin", "America/New_York"),
        ("country", "DE", "US"),
        ("currency", "EUR", "USD"),
        ("default_locale", "de", "en-US"),
        ("storefront_origins", [], ["https://shop.example.com", "https://www.example.com"]),
    ]
    page = client.get("/app/settings").get_data(as_text=True)
    assert '<option selected value="America/New_York">America/New_York</option>' in page
    origins = 'name="storefront_origins">\r\nhttps://shop.example.com\nhttps://www.example.com<'
    assert origins in page


def test_an_origin_with_a_path_is_refused_and_nothing_changes(
    client: FlaskClient, session: Session
) -> None:
    store = make_store(session)
    sign_in(client, session, store)
    token = csrf_token(client.get("/app/settings").get_data(as_text=True))

    response = client.post(
        "/app/settings/shop",
        data={**SHOP, "csrf_token": token, "storefront_origins": "https://shop.example.com/de"},
    )

    assert response.status_code == 400
    assert "One address per line, such as https://shop.example.com (no path)." in response.text
    assert _audit(session, store) == []
    assert store.timezone == "Europe/Berlin"


def test_an_unknown_time_zone_is_refused(client: FlaskClient, session: Session) -> None:
    store = make_store(session)
    sign_in(client, session, store)
    token = csrf_token(client.get("/app/settings").get_data(as_text=True))

    response = client.post(
        "/app/settings/shop", data={**SHOP, "csrf_token": token, "timezone": "Mars/Olympus"}
    )

    assert response.status_code == 400
    assert _audit(session, store) == []


def test_cart_abandon_delay_and_age_are_set_on_the_reminders_form(
    client: FlaskClient, session: Session
) -> None:
    store = make_store(session)
    sign_in(client, session, store)
    token = csrf_token(client.get("/app/settings").get_data(as_text=True))

    response = client.post(
        "/app/settings/reminders",
        data={
            "csrf_token": token,
            "delay_1": "60",
            "template_1": "cart_reminder_1",
            "delay_2": "1440",
            "template_2": "cart_reminder_2",
            "cart_abandon_minutes": "45",
            "cart_max_age_hours": "48",
        },
    )

    assert response.status_code == 302
    assert _audit(session, store) == [
        ("cart_abandon_minutes", 60, 45),
        ("cart_max_age_hours", 72, 48),
    ]


def test_rate_card_overrides_from_the_page_price_the_next_message(
    client: FlaskClient, session: Session
) -> None:
    store = make_store(session)
    sign_in(client, session, store)
    token = csrf_token(client.get("/app/settings").get_data(as_text=True))

    response = client.post(
        "/app/settings/budget",
        data={
            "csrf_token": token,
            "holdout_percent": "10",
            "rate_card_overrides": "de 0,1200 0.05 0.05",
        },
    )

    assert response.status_code == 302
    session.refresh(store)
    assert store.setting("rate_card_overrides") == {
        "DE": {"marketing": 120_000, "utility": 50_000, "authentication": 50_000}
    }
    assert expected_cost(store, "+4915123456789") == (120_000, "EUR")
    assert expected_cost(store, "+33612345678") == (113_100, "EUR")  # not overridden
    page = client.get("/app/settings").get_data(as_text=True)
    assert 'name="rate_card_overrides">\r\nDE 0.12 0.05 0.05</textarea>' in page


def test_a_rate_above_ten_euros_is_refused_on_the_page(
    client: FlaskClient, session: Session
) -> None:
    store = make_store(session)
    sign_in(client, session, store)
    token = csrf_token(client.get("/app/settings").get_data(as_text=True))

    response = client.post(
        "/app/settings/budget",
        data={"csrf_token": token, "holdout_percent": "10", "rate_card_overrides": "DE 12 0 0"},
    )

    assert response.status_code == 400
    assert _audit(session, store) == []


def test_a_post_without_the_rate_card_keeps_the_owners_rates(
    client: FlaskClient, session: Session
) -> None:
    rates = {"AT": {"marketing": 59_200, "utility": 17_100, "authentication": 17_100}}
    store = make_store(session, settings={"rate_card_overrides": rates})
    sign_in(client, session, store)
    token = csrf_token(client.get("/app/settings").get_data(as_text=True))

    client.post(
        "/app/settings/budget",
        data={"csrf_token": token, "holdout_percent": "20"},
    )

    session.refresh(store)
    assert store.setting("rate_card_overrides") == rates
    assert _audit(session, store) == [("holdout_percent", 10, 20)]


def test_stores_set_takes_rate_card_overrides_and_a_logo(
    runner: FlaskCliRunner, session: Session
) -> None:
    store = make_store(session)
    session.commit()

    rates = runner.invoke(
        args=["stores", "set", store.public_key, "rate_card_overrides", "AT 0.0592 0.0171 0.0171"]
    )
    logo = runner.invoke(
        args=["stores", "set", store.public_key, "logo_url", "https://cdn.example/l.png"]
    )
    bad = runner.invoke(args=["stores", "set", store.public_key, "logo_url", "http://x.example"])

    assert rates.exit_code == 0, rates.output
    assert rates.output == (
        'rate_card_overrides = {"AT": {"marketing": 59200, "utility": 17100, '
        '"authentication": 17100}}\n'
    )
    assert logo.output == 'logo_url = "https://cdn.example/l.png"\n'
    assert bad.exit_code == 2
    assert [field for field, _, _ in _audit(session, store)] == ["rate_card_overrides", "logo_url"]
