"""Nothing of one shop is reachable from another shop's session, on every owner route.

The test walks app.url_map, so routes other parts add under /app/ or /api/v1/admin/ are covered
too: a route with an argument that names an object must answer 404 for shop B's object in shop
A's session (and 200 in B's own, so the 404 is not vacuous); a route without one must not show
B's data. A new kind of argument fails the test until it is mapped here.
"""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy.orm import Session
from werkzeug.routing import Rule

from plugin.consent.wording import add_wording_version
from plugin.models import Campaign, ConsentEvent, Store, Subscription
from tests.factories import make_notification, make_store, make_subscription
from tests.owner import csrf_token, sign_in

OWNER_PREFIXES = ("/app", "/api/v1/admin")
#: Ways in and out: they take no shop's objects.
SIGN_IN_ENDPOINTS = {"auth.login", "auth.logout", "auth.signed_out"}
#: Writes that act on the session's own shop whatever the number: opting a number out records a
#: suppression in this shop (it must leave shop B's subscription untouched, checked below).
OWN_SHOP_WRITES = {"admin_consent.opt_out"}
#: Arguments that pick one of the signed-in shop's own sections, not another shop's object.
OWN_SECTIONS = {"section": "business", "locale": "de"}
B_MARKERS = ("Schwarzes Schaf", "+4915199990000", "GEHEIM-B", "secret_template_b", "reason-b")


def _shop_b(session: Session) -> dict[str, Any]:
    store = make_store(session, name="Schwarzes Schaf")
    subscription = make_subscription(session, store, phone="+4915199990000")
    wording = add_wording_version(
        session, store, "de", "Schwarzes Schaf per WhatsApp, STOPP. GEHEIM-B", "test"
    )
    session.add(
        ConsentEvent(
            store_id=store.id,
            subscription_id=subscription.id,
            kind="requested",
            source="widget",
            wording_id=wording.id,
        )
    )
    notification = make_notification(
        session,
        store,
        "b-1",
        phone=subscription.phone,
        template_name="secret_template_b",
        state="skipped",
        reason="reason-b",
        subscription_id=subscription.id,
    )
    campaign = Campaign(
        store_id=store.id, name="Sommer GEHEIM-B", template_name="secret_template_b"
    )
    session.add(campaign)
    session.flush()
    return {
        "store": store,
        "campaign_id": campaign.id,
        "notification_id": notification.id,
        "phone": subscription.phone,
        "wording_id": wording.id,
        "subscription_id": subscription.id,
        "store_key": store.public_key,
        "store_id": store.id,
    }


def _owner_rules(app: Flask) -> list[Rule]:
    return sorted(
        (
            rule
            for rule in app.url_map.iter_rules()
            if rule.rule.startswith(OWNER_PREFIXES) and rule.endpoint not in SIGN_IN_ENDPOINTS
        ),
        # Own-shop writes last: a suppression they record would otherwise be found by the rest.
        key=lambda rule: (rule.endpoint in OWN_SHOP_WRITES, rule.rule),
    )


def _url(rule: Rule, shop_b: dict[str, Any]) -> tuple[str, bool]:
    """The rule's URL aimed at shop B's objects, and whether it names an object at all."""
    values: dict[str, Any] = {}
    names_object = False
    for argument in sorted(rule.arguments):
        if argument in OWN_SECTIONS:
            values[argument] = OWN_SECTIONS[argument]
        elif argument in shop_b:
            values[argument] = shop_b[argument]
            names_object = True
        else:
            pytest.fail(f"{rule.rule}: map argument {argument!r} to an object of shop B here")
    return rule.build(values, append_unknown=False)[1], names_object


def test_a_session_of_shop_a_gets_404_for_every_object_of_shop_b(
    app: Flask, session: Session
) -> None:
    shop_a = make_store(session, name="Erste Rösterei")
    make_subscription(session, shop_a, phone="+4915100000001")
    shop_b = _shop_b(session)
    session.commit()
    client_a, client_b = app.test_client(), app.test_client()
    sign_in(client_a, session, shop_a)
    sign_in(client_b, session, shop_b["store"])
    token_a = csrf_token(client_a.get("/app/settings").get_data(as_text=True))
    token_b = csrf_token(client_b.get("/app/settings").get_data(as_text=True))

    checked: list[str] = []
    for rule in _owner_rules(app):
        url, names_object = _url(rule, shop_b)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            if method != "GET" and not names_object:
                continue  # writes the session's own shop; covered by the settings tests
            response = client_a.open(url, method=method, data={"csrf_token": token_a})
            body = response.get_data(as_text=True)
            if rule.endpoint in OWN_SHOP_WRITES:
                assert response.status_code < 400, f"{method} {url}"
            elif names_object:
                assert response.status_code == 404, f"{method} {url}: {response.status_code}"
                own = client_b.open(url, method=method, data={"csrf_token": token_b})
                # found for its own shop; a state change the object's state forbids (a campaign
                # paused twice) is a 409 or 422, never the 404 shop A got
                assert own.status_code < 400 or own.status_code in (409, 422), (
                    f"{method} {url} for its own shop: {own.status_code}"
                )
            else:
                assert response.status_code in (200, 302), f"{method} {url}"
            typed = shop_b["phone"] if rule.endpoint in OWN_SHOP_WRITES else None
            leaked = [marker for marker in B_MARKERS if marker in body and marker != typed]
            assert leaked == [], f"{method} {url} shows shop B's {leaked}"
            checked.append(f"{method} {rule.rule}")

    session.expire_all()
    assert session.get(Subscription, shop_b["subscription_id"]).state == "confirmed"

    assert {
        "GET /app/",
        "GET /app/settings",
        "GET /app/outbox",
        "GET /app/outbox/<int:notification_id>",
        "GET /app/consent/<phone>",
        "GET /api/v1/admin/dashboard",
        "GET /api/v1/admin/notifications/<int:notification_id>",
        "GET /api/v1/admin/subscriptions/<phone>",
    } <= set(checked)


def test_outbox_filters_cannot_reach_another_shops_rows(app: Flask, session: Session) -> None:
    shop_a: Store = make_store(session)
    _shop_b(session)
    session.commit()
    client = app.test_client()
    sign_in(client, session, shop_a)

    body = client.get("/app/outbox?state=skipped&reason=reason-b").get_data(as_text=True)

    assert "secret_template_b" not in body
    assert "No messages match." in body
