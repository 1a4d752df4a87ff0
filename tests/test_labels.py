"""Owner pages speak in words, not codes: every state, flow, reason, source and status."""

from __future__ import annotations

import datetime as dt
import re
from html.parser import HTMLParser

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from plugin.engine.guards import CONFIRMATION_GUARDS, GUARDS
from plugin.labels import PRICING, REASONS, SOURCES
from plugin.models import ConsentEvent, ConsentKind, Flow, NotificationState, Store
from tests.factories import (
    make_notification,
    make_store,
    make_subscription,
    make_template,
    make_whatsapp_account,
)
from tests.owner import sign_in

PHONE = "+4915112345678"
TEMPLATE_STATUSES = ("APPROVED", "PENDING", "REJECTED", "PAUSED", "DISABLED")
GUARD_REASONS = [guard.name for guard in (*GUARDS, *CONFIRMATION_GUARDS)]
#: Codes that must never be read on a page: the enums, the guards, and the sources.
CODES = sorted(
    {
        *NotificationState,
        *Flow,
        *ConsentKind,
        "pending",
        *GUARD_REASONS,
        "holdout",
        "sending_unconfirmed",
        *(code for code in SOURCES if "_" in code),
        *TEMPLATE_STATUSES,
        "GREEN",
        "YELLOW",
        "RED",
        *PRICING,
    }
)


class VisibleText(HTMLParser):
    """The text a reader sees: no attributes, no script; raw JSON details left out on purpose."""

    HIDDEN = frozenset({"script", "style", "pre", "code", "datalist", "title"})

    def __init__(self) -> None:
        super().__init__()
        self.nodes: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.hidden += tag in self.HIDDEN

    def handle_endtag(self, tag: str) -> None:
        self.hidden -= tag in self.HIDDEN

    def handle_data(self, data: str) -> None:
        if not self.hidden and data.strip():
            self.nodes.append(data.strip())


def raw_codes_in(html: str, language: str) -> list[str]:
    """Codes shown as text: any code word on a German page; on an English page a code with an
    underscore or in capitals anywhere, and a lowercase one only where it is a whole cell."""
    parser = VisibleText()
    parser.feed(html)
    found = []
    for node in parser.nodes:
        words = set(re.findall(r"[A-Za-z_]+", node))
        for code in CODES:
            strict = language == "de" or "_" in code or code.isupper()
            if (code in words) if strict else node == code:
                found.append(f"{code} in {node!r}")
    return found


def _full_shop(session: Session) -> tuple[Store, list[int]]:
    store = make_store(session, name="Bohne & Blatt")
    make_whatsapp_account(session, store, quality_rating="YELLOW")
    for n, status in enumerate(TEMPLATE_STATUSES):
        make_template(session, store, f"purpose_{n}", name=f"vorlage_{n}", status=status)
    make_template(session, store, "cart_reminder_1", name="erinnerung", status="APPROVED")
    ids = []
    reasons = [*GUARD_REASONS, "holdout", "sending_unconfirmed", "expired"]
    for n, reason in enumerate(reasons):
        row = make_notification(session, store, f"skip:{n}", template_name="erinnerung",
                                state="skipped", reason=reason)  # fmt: skip
        ids.append(row.id)
    categories = iter(PRICING)
    for n, state in enumerate(NotificationState):
        for flow in Flow:
            delivery = "delivered" if state == "sent" else None
            fields = {"state": state, "flow": flow, "delivery_status": delivery}
            if state == "sent":
                category = next(categories, "marketing")
                fields |= {"cost_micros": 113_100, "cost_currency": "EUR",
                           "pricing_category": category}  # fmt: skip
            row = make_notification(
                session, store, f"{state}:{flow}:{n}", template_name="erinnerung", **fields
            )
            ids.append(row.id)
    subscription = make_subscription(session, store, phone=PHONE, state="opted_out")
    moment = dt.datetime(2026, 11, 20, 9, 30, tzinfo=dt.UTC)
    for n, source in enumerate(SOURCES):
        for kind in ConsentKind:
            session.add(
                ConsentEvent(
                    store_id=store.id,
                    subscription_id=subscription.id,
                    kind=kind,
                    source=source,
                    occurred_at=moment + dt.timedelta(minutes=n),
                )
            )
    pending = make_subscription(session, store, phone="+4915112345679", state="pending")
    session.add(ConsentEvent(store_id=store.id, subscription_id=pending.id, kind="requested",
                             source="checkout_checkbox", occurred_at=moment))  # fmt: skip
    session.commit()
    return store, ids


@pytest.mark.parametrize("language", ["de", "en"])
def test_no_owner_page_shows_a_raw_code(
    client: FlaskClient, session: Session, language: str
) -> None:
    store, ids = _full_shop(session)
    sign_in(client, session, store)
    paths = [
        "/app/",
        "/app/settings",
        "/app/outbox",
        "/app/outbox?state=skipped",
        f"/app/consent/{PHONE}",
        "/app/consent/+4915112345679",
        *(f"/app/outbox/{notification_id}" for notification_id in ids),
    ]

    found = {}
    for path in paths:
        response = client.get(path, headers={"Accept-Language": language})
        assert response.status_code == 200, path
        codes = raw_codes_in(response.get_data(as_text=True), language)
        if codes:
            found[path] = codes

    assert found == {}


@pytest.mark.parametrize(
    ("language", "explained"),
    [
        ("en", "Already bought: the buyer bought in the meantime, or the cart grew too old"),
        ("de", "Schon gekauft: der Kunde hat inzwischen gekauft, oder der Warenkorb ist zu alt"),
    ],
)
def test_a_skipped_message_explains_its_reason_in_the_owners_language(
    client: FlaskClient, session: Session, language: str, explained: str
) -> None:
    store = make_store(session)
    row = make_notification(session, store, "1", state="skipped", reason="cart_open")
    session.commit()
    sign_in(client, session, store)

    html = client.get(f"/app/outbox/{row.id}", headers={"Accept-Language": language}).get_data(
        as_text=True
    )

    assert f'<dd data-reason="cart_open">{explained}</dd>' in html


def test_every_guard_and_source_has_words_in_both_languages() -> None:
    assert [reason for reason in GUARD_REASONS if reason not in REASONS] == []
    assert {"checkout_checkbox", "widget", "whatsapp_reply"} <= set(SOURCES)


def test_outbox_reason_filter_counts_messages_with_plural_forms(
    client: FlaskClient, session: Session
) -> None:
    store = make_store(session)
    make_notification(session, store, "1", state="skipped", reason="quiet_hours")
    for n in range(2, 4):
        make_notification(session, store, str(n), state="skipped", reason="frequency_cap")
    session.commit()
    sign_in(client, session, store)

    german = client.get("/app/outbox", headers={"Accept-Language": "de"}).get_data(as_text=True)
    english = client.get("/app/outbox", headers={"Accept-Language": "en"}).get_data(as_text=True)

    assert '<option value="quiet_hours" >Ruhezeit (1 Nachricht)</option>' in german
    assert '<option value="frequency_cap" >Nachrichtengrenze (2 Nachrichten)</option>' in german
    assert '<option value="quiet_hours" >Quiet hours (1 message)</option>' in english
    assert '<option value="frequency_cap" >Message limit (2 messages)</option>' in english


@pytest.mark.parametrize(
    ("language", "category", "words"),
    [
        ("en", "marketing", "€0.1131 <span data-pricing=\"marketing\">(Marketing)</span>"),
        ("de", "marketing", "0,1131\xa0€ <span data-pricing=\"marketing\">(Marketing)</span>"),
        ("en", "utility", "<span data-pricing=\"utility\">(Order or account update)</span>"),
        ("de", "utility", "<span data-pricing=\"utility\">(Bestell- oder Kontoinformation)</span>"),
        ("en", "service", "<span data-pricing=\"service\">(Reply to the buyer)</span>"),
        ("de", "authentication_international",
         "(Anmeldecode, internationaler Tarif)</span>"),
        ("en", "referral_conversion",
         "<span data-pricing=\"referral_conversion\">(Conversation from an ad (free))</span>"),
    ],
)  # fmt: skip
def test_a_messages_cost_names_its_pricing_category_in_words(
    client: FlaskClient, session: Session, language: str, category: str, words: str
) -> None:
    store = make_store(session)
    row = make_notification(session, store, "1", state="sent", delivery_status="delivered",
                            cost_micros=113_100, cost_currency="EUR",
                            pricing_category=category)  # fmt: skip
    session.commit()
    sign_in(client, session, store)

    html = client.get(f"/app/outbox/{row.id}", headers={"Accept-Language": language}).get_data(
        as_text=True
    )

    assert words in html
    assert f"({category})" not in html


def test_every_pricing_category_meta_reports_has_words() -> None:
    meta_categories = {"marketing", "marketing_lite", "utility", "service", "authentication",
                       "authentication_international", "referral_conversion"}  # fmt: skip
    assert meta_categories - set(PRICING) == set()
