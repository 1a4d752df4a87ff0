"""The owner's campaign pages: compose, preview, confirm the figures, pause, cancel, CSV."""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import re
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from plugin.campaigns import drafts, lifecycle
from plugin.config import Settings
from plugin.models import Campaign, Notification, Store
from plugin.web.app.campaign_report import COLUMNS
from tests.campaigns.test_campaigns import CONFIRMED, shop
from tests.campaigns.test_unique_coupons import BODY as CODE_BODY
from tests.campaigns.test_unique_coupons import BUTTONS as CODE_BUTTONS
from tests.factories import make_store, make_subscription, make_template
from tests.owner import csrf_token, sign_in
from tests.test_labels import VisibleText, raw_codes_in

#: Campaign codes that pages must put in words.
CAMPAIGN_CODES = (
    "draft",
    "running",
    "cancelled",
    "campaign_paused",
    "campaign_cancelled",
    "not_confirmed",
    "opted_out",
    "erased",
)


def campaign_codes_in(html_text: str, language: str) -> list[str]:
    """Campaign codes a reader sees: as any word on a German page; on an English one, a code
    with an underscore anywhere and a plain word ("draft") only where it is a whole cell."""
    parser = VisibleText()
    parser.feed(html_text)
    found = []
    for node in parser.nodes:
        words = set(re.findall(r"[A-Za-z_]+", node))
        for code in CAMPAIGN_CODES:
            strict = language == "de" or "_" in code
            if (code in words) if strict else node == code:
                found.append(f"{code} in {node!r}")
    return found


COMPOSED = {
    "name": "Winter",
    "template": "winter_sale",
    "holdout_percent": "0",
    "window_start": "09:00",
    "window_end": "20:00",
    "spread_hours": "0",
}


def signed_in(client: FlaskClient, session: Session) -> Store:
    store = shop(session)
    sign_in(client, session, store)
    return store


def compose(client: FlaskClient, **fields: str) -> Any:
    page = client.get("/app/campaigns/new").get_data(as_text=True)
    data = COMPOSED | fields | {"csrf_token": csrf_token(page)}
    return client.post("/app/campaigns/new", data=data)


def start_form(page: str) -> tuple[str, dict[str, str]]:
    """The confirm form's action and fields, exactly as the browser would send them."""
    form = re.search(
        r'<form method="post" action="(/app/campaigns/\d+/start)">(.*?)</form>', page, re.S
    )
    assert form, "no start form on the page"
    fields = dict(re.findall(r'name="([^"]+)" type="hidden" value="([^"]*)"', form.group(2)))
    return form.group(1), {k: html.unescape(v) for k, v in fields.items()}


def outbox_count(session: Session, store: Store) -> int:
    session.expire_all()
    return session.scalar(
        select(func.count()).select_from(Notification).where(Notification.store_id == store.id)
    )


def test_composer_builds_the_segment_rules_from_the_form(
    client: FlaskClient, session: Session
) -> None:
    store = signed_in(client, session)

    created = compose(
        client,
        languages="de, EN",
        countries="de",
        orders_min="2",
        spent_min="49.90",
        spent_max="500",
        bought="Kaffee",
        bought_kind="category",
        bought_within="30",
        never_bought="8001",
        never_bought_kind="product",
        engaged_within="14",
        subscribed_min="7",
        coupon="WINTER20",
        starts_at=(dt.datetime.now() + dt.timedelta(days=3)).strftime("%Y-%m-%dT10:00"),
    )

    assert created.status_code == 302
    campaign = session.scalars(select(Campaign).where(Campaign.store_id == store.id)).one()
    assert created.headers["Location"] == f"/app/campaigns/{campaign.id}"
    assert campaign.segment == {
        "rules": [
            {"rule": "language", "in": ["de", "en"]},
            {"rule": "country", "in": ["DE"]},
            {"rule": "orders", "min": 2},
            {"rule": "total_spent", "min": 4990, "max": 50000},
            {"rule": "bought", "category": "Kaffee", "within_days": 30},
            {"rule": "never_bought", "product": "8001"},
            {"rule": "engaged", "within_days": 14},
            {"rule": "subscribed_days", "min": 7},
        ]
    }
    assert (campaign.coupon_code, campaign.window_start, campaign.window_end) == (
        "WINTER20",
        "09:00",
        "20:00",
    )
    page = client.get(f"/app/campaigns/{campaign.id}").get_data(as_text=True)
    (listed,) = re.findall(r'<ul class="rules">(.*?)</ul>', page, re.S)
    assert [html.unescape(w) for w in re.findall(r"<li>(.*?)</li>", listed)] == [
        "Language: de, en",
        "Country: DE",
        "At least 2 orders",
        "Spent €49.90 to €500.00",
        "Bought from category Kaffee within 30 days",
        "Never bought product 8001",
        "Read or clicked a message within 14 days",
        "Subscribed for at least 7 days",
    ]
    local = campaign.starts_at.replace(tzinfo=dt.UTC).astimezone(ZoneInfo(store.timezone))
    assert (local.hour, local.minute) == (10, 0)  # 10:00 where the shop is
    assert outbox_count(session, store) == 0


def test_composer_refuses_mistakes_beside_their_fields_and_creates_nothing(
    client: FlaskClient, session: Session
) -> None:
    signed_in(client, session)

    answers = [
        compose(client, window_start="19:00", window_end="10:00"),
        compose(client, orders_min="5", orders_max="2"),
        compose(client, countries="Germany"),
        compose(client, holdout_percent="60"),
        compose(client, template="notice"),
        compose(client, starts_at="2020-01-01T10:00"),
        compose(client, starts_at="0001-01-01T00:30"),
        compose(client, holdout_percent="sNaN", spent_min="Infinity"),
    ]

    assert [a.status_code for a in answers] == [400] * 8
    pages = [a.get_data(as_text=True) for a in answers]
    assert 'id="window_end-error"' in pages[0]
    assert "The window must end after it starts." in pages[0]
    assert "The maximum must not be below the minimum." in pages[1]
    assert 'id="countries-error"' in pages[2]
    assert 'id="holdout_percent-error"' in pages[3]
    assert 'id="template-error"' in pages[4]
    assert "Choose a time that is still to come." in pages[5]
    assert "Choose a time that is still to come." in pages[6]
    assert 'id="holdout_percent-error"' in pages[7]
    assert 'id="spent_min-error"' in pages[7]
    assert session.scalar(select(func.count()).select_from(Campaign)) == 0


def test_preview_shows_audience_exclusions_cost_and_budget_share_in_german(
    client: FlaskClient, session: Session
) -> None:
    store = signed_in(client, session)
    store.settings = {"monthly_budget_minor": 10_000}
    session.commit()
    location = compose(client).headers["Location"]

    page = client.get(location, headers={"Accept-Language": "de-DE"}).get_data(as_text=True)

    assert '<dd data-metric="segment_size">7</dd>' in page
    assert '<dd data-metric="audience">4</dd>' in page
    found = re.findall(r'<tr data-reason="([a-z_]+)"><th scope="row">([^<]+)</th>', page)
    excluded = {reason: html.unescape(words) for reason, words in found}
    assert excluded == {
        "erased": "Gelöscht: die Daten des Käufers wurden auf Wunsch gelöscht",
        "not_confirmed": (
            "Anmeldung noch nicht bestätigt: der Käufer hat sich angemeldet, "
            "aber noch nicht in WhatsApp bestätigt"
        ),
        "opted_out": "Abgemeldet: der Käufer möchte keine Nachrichten mehr",
    }
    assert re.search(r'<tr data-country="DE"><th scope="row">Deutschland</th>', page)
    assert 'data-metric="cost-EUR">0,4524\xa0€<' in page
    assert "Das sind 0,45 % des Monatsbudgets von 100,00\xa0€." in page
    assert "Starten: an 4 Käufer senden · 0,4524\xa0€" in page
    assert outbox_count(session, store) == 0


def test_start_goes_only_with_the_figures_on_screen(client: FlaskClient, session: Session) -> None:
    store = signed_in(client, session)
    location = compose(client).headers["Location"]
    action, fields = start_form(client.get(location).get_data(as_text=True))

    stale = client.post(action, data=fields | {"audience": "5"})
    after_stale = outbox_count(session, store)
    started = client.post(action, data=fields)

    assert stale.status_code == 302
    assert after_stale == 0
    assert started.status_code == 302
    assert outbox_count(session, store) == 4
    page = client.get(location).get_data(as_text=True)
    assert "Started: 4 messages wait to be sent." in page
    assert '<dd data-metric="pending">4</dd>' in page
    assert 'data-metric="status">Sending<' in page


def test_pause_resume_and_cancel_buttons_hold_and_end_what_is_unsent(
    client: FlaskClient, session: Session, settings: Settings
) -> None:
    store = signed_in(client, session)
    campaign = drafts.create_campaign(session, store, name="Later", template="winter_sale")
    session.commit()
    lifecycle.start_campaign(
        session,
        settings,
        store,
        campaign,
        dt.datetime.now(dt.UTC),
        dt.datetime.now(dt.UTC) + dt.timedelta(days=2),
    )
    session.commit()
    base = f"/app/campaigns/{campaign.id}"
    token = csrf_token(client.get(base).get_data(as_text=True))

    paused = client.post(f"{base}/pause", data={"csrf_token": token})
    paused_page = client.get(base).get_data(as_text=True)
    resumed = client.post(f"{base}/start", data={"csrf_token": token})
    no_token = client.post(f"{base}/cancel")
    cancelled = client.post(f"{base}/cancel", data={"csrf_token": token})
    page = client.get(base).get_data(as_text=True)
    stale = [
        client.post(f"{base}/{action}", data={"csrf_token": token}) for action in ("start", "pause")
    ]
    stale_page = client.get(base).get_data(as_text=True)

    assert [r.status_code for r in (paused, resumed, no_token, cancelled)] == [302, 302, 400, 302]
    assert [r.status_code for r in stale] == [302, 302]
    assert "A cancelled campaign cannot start again." in stale_page
    assert "Only a campaign that is sending can be paused." in stale_page
    assert outbox_count(session, store) == 4
    assert "Paused: 4 messages held." in paused_page
    assert "Resume" in paused_page
    assert "Cancelled: 4 messages will not be sent." in page
    assert '<tr data-reason="campaign_cancelled">' in page
    assert f'action="/app/campaigns/{campaign.id}/pause"' not in page
    session.expire_all()
    assert session.get(Campaign, campaign.id).status == "cancelled"  # type: ignore[union-attr]


def test_csv_has_one_line_per_recipient_with_what_followed(
    client: FlaskClient, session: Session, settings: Settings
) -> None:
    store = signed_in(client, session)
    campaign = drafts.create_campaign(session, store, name="Now", template="winter_sale")
    session.commit()
    lifecycle.start_campaign(session, settings, store, campaign, dt.datetime.now(dt.UTC), None)
    session.commit()

    answer = client.get(f"/app/campaigns/{campaign.id}/recipients.csv")

    assert answer.status_code == 200
    assert answer.mimetype == "text/csv"
    assert answer.headers["Content-Disposition"] == (
        f'attachment; filename="campaign-{campaign.id}-recipients.csv"'
    )
    lines = list(csv.DictReader(io.StringIO(answer.get_data(as_text=True))))
    assert list(lines[0]) == list(COLUMNS)
    assert sorted(line["phone"] for line in lines) == sorted(CONFIRMED)
    assert {
        (line["group"], line["state"], line["cost"], line["cost_currency"]) for line in lines
    } == {("waiting", "pending", "0.1131", "EUR")}


def test_another_shops_campaign_pages_answer_404_and_change_nothing(
    client: FlaskClient, session: Session
) -> None:
    signed_in(client, session)
    other = make_store(session, domain="other-shop.myshopify.com")
    make_template(session, other, "campaign", name="winter_sale")
    session.commit()
    theirs = drafts.create_campaign(session, other, name="Theirs", template="winter_sale")
    session.commit()
    token = csrf_token(client.get("/app/campaigns").get_data(as_text=True))
    base = f"/app/campaigns/{theirs.id}"

    answers = [client.get(base), client.get(f"{base}/recipients.csv")] + [
        client.post(f"{base}/{action}", data={"csrf_token": token})
        for action in ("start", "pause", "cancel")
    ]

    assert [a.status_code for a in answers] == [404] * 5
    assert "Theirs" not in client.get("/app/campaigns").get_data(as_text=True)
    session.expire_all()
    assert session.get(Campaign, theirs.id).status == "draft"  # type: ignore[union-attr]
    assert outbox_count(session, other) == 0


def test_live_count_says_how_many_buyers_the_rules_hold_in_this_shop_only(
    client: FlaskClient, session: Session
) -> None:
    signed_in(client, session)
    other = make_store(session, domain="other-shop.myshopify.com")
    make_subscription(session, other, "+4915199900001")
    session.commit()

    everyone = client.get("/app/campaigns/segment-count")
    english = client.get("/app/campaigns/segment-count?languages=en")
    german = client.get(
        "/app/campaigns/segment-count?languages=de", headers={"Accept-Language": "de"}
    )
    wrong = client.get("/app/campaigns/segment-count?orders_min=5&orders_max=2")

    assert everyone.get_json() == {
        "segment": 7,
        "confirmed": 5,
        "text": "7 subscribers match, 5 of them confirmed.",
    }
    assert english.get_json()["segment"] == 0
    assert german.get_json()["text"] == "7 Abonnenten passen, 5 davon bestätigt."
    assert wrong.status_code == 422
    assert wrong.get_json() == {
        "error": "segment_invalid",
        "message": "orders_max: The maximum must not be below the minimum.",
        "text": "The maximum must not be below the minimum.",
    }


@pytest.mark.parametrize("language", ["de", "en"])
def test_no_campaign_page_shows_a_raw_code(
    client: FlaskClient, session: Session, language: str, settings: Settings
) -> None:
    # given a draft, a running campaign with a control group, and a cancelled one
    store = signed_in(client, session)
    draft = drafts.create_campaign(session, store, name="Entwurf", template="winter_sale")
    running = drafts.create_campaign(
        session, store, name="Läuft", template="winter_sale", holdout_percent=50
    )
    ended = drafts.create_campaign(session, store, name="Vorbei", template="winter_sale")
    now = dt.datetime.now(dt.UTC)
    for campaign in (running, ended):
        lifecycle.start_campaign(
            session, settings, store, campaign, now, now + dt.timedelta(days=1)
        )
    lifecycle.cancel_campaign(session, store, ended, now)
    session.commit()
    paths = [
        "/app/campaigns",
        "/app/campaigns/new",
        *(f"/app/campaigns/{c.id}" for c in (draft, running, ended)),
    ]

    # when each page is read in the owner's language
    found = {}
    for path in paths:
        answer = client.get(path, headers={"Accept-Language": language})
        assert answer.status_code == 200, path
        text = answer.get_data(as_text=True)
        codes = raw_codes_in(text, language) + campaign_codes_in(text, language)
        if codes:
            found[path] = codes

    # then every state and reason is in words
    assert found == {}


def with_code_template(session: Session, store: Store) -> None:
    """An approved template whose {{3}} and copy-code button carry the coupon code."""
    make_template(
        session, store, "campaign", name="winter_code", components=[CODE_BODY, CODE_BUTTONS]
    )
    session.commit()


def test_composer_gives_each_buyer_a_code_of_their_own_and_the_pages_say_so(
    client: FlaskClient, session: Session
) -> None:
    store = signed_in(client, session)
    with_code_template(session, store)

    created = compose(client, template="winter_code", unique_coupon_percent="15")

    assert created.status_code == 302, created.get_data(as_text=True)
    campaign = session.scalars(select(Campaign).where(Campaign.store_id == store.id)).one()
    assert (campaign.coupon_percent_off, campaign.coupon_code) == (15, None)
    english = client.get(created.headers["Location"]).get_data(as_text=True)
    german = client.get(created.headers["Location"], headers={"Accept-Language": "de"})
    assert '<dd data-metric="coupon">A code per buyer, 15 % off</dd>' in english
    assert "dein Code [own code: 15 % off] bei" in english  # the buyer's own code: a slot
    assert '<dd data-metric="coupon">Ein Code pro Käufer, 15 % Rabatt</dd>' in german.get_data(
        as_text=True
    )
    assert outbox_count(session, store) == 0


@pytest.mark.parametrize("language", ["en", "de"])
def test_composer_refuses_coupon_mistakes_by_the_clis_rules_beside_their_fields(
    client: FlaskClient, session: Session, language: str
) -> None:
    store = signed_in(client, session)
    with_code_template(session, store)
    words = {
        "en": (
            "Give one code for everybody or a code per buyer, not both.",
            "This template shows a coupon code: enter one for everybody, or give each buyer "
            "a code of their own.",
            "This template shows no coupon code, so it cannot carry a code per buyer.",
            "Between 1 and 100 percent.",
        ),
        "de": (
            "Entweder ein Code für alle oder ein Code pro Käufer, nicht beides.",
            "Diese Vorlage zeigt einen Gutscheincode: Gib einen für alle ein oder gib jedem "
            "Käufer einen eigenen.",
            "Diese Vorlage zeigt keinen Gutscheincode, also kann sie keinen Code pro Käufer "
            "tragen.",
            "Zwischen 1 und 100 Prozent.",
        ),
    }[language]
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = language

    answers = [
        compose(client, template="winter_code", coupon="WINTER", unique_coupon_percent="10"),
        compose(client, template="winter_code"),
        compose(client, template="winter_sale", unique_coupon_percent="10"),
        compose(client, template="winter_code", unique_coupon_percent="0"),
        compose(client, template="winter_code", unique_coupon_percent="101"),
    ]

    assert [a.status_code for a in answers] == [422, 422, 422, 400, 400]
    pages = [html.unescape(a.get_data(as_text=True)) for a in answers]
    for page, field, message in (
        (pages[0], "unique_coupon_percent", words[0]),
        (pages[1], "coupon", words[1]),
        (pages[2], "unique_coupon_percent", words[2]),
        (pages[3], "unique_coupon_percent", words[3]),
        (pages[4], "unique_coupon_percent", words[3]),
    ):
        assert f'<small id="{field}-error" class="error">{message}</small>' in page
    assert session.scalar(select(func.count()).select_from(Campaign)) == 0


def test_test_send_button_queues_one_message_to_the_owners_confirmed_number_only(
    client: FlaskClient, session: Session
) -> None:
    # given a draft and its page, in German
    store = signed_in(client, session)
    location = compose(client).headers["Location"]
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "de"
    page = client.get(location).get_data(as_text=True)
    token = csrf_token(page)
    action = f"{location}/test-send"
    assert f'action="{action}"' in page

    # when the owner types a pending number, then their own confirmed one as at home
    pending = client.post(action, data={"phone": "+4915111100008", "csrf_token": token})
    after_pending = outbox_count(session, store)
    sent = client.post(action, data={"phone": "0151 11100001", "csrf_token": token})
    forged = client.post(action, data={"phone": "0151 11100001"})

    # then the pending number is refused in words beside the field, the owner's number queued
    assert pending.status_code == 422
    assert (
        '<small id="phone-error" class="error">Diese Nummer hat WhatsApp-Werbung von diesem '
        "Shop nicht bestätigt."
    ) in html.unescape(pending.get_data(as_text=True))
    assert after_pending == 0
    assert sent.status_code == 302 and forged.status_code == 400
    session.expire_all()
    (row,) = session.scalars(select(Notification).where(Notification.store_id == store.id))
    assert (row.flow, row.phone, row.state) == ("campaign_test", CONFIRMED[0], "pending")
    again = html.unescape(client.get(location).get_data(as_text=True))
    assert f"Testnachricht an {CONFIRMED[0]} eingereiht" in again
    assert f'<li data-test="{row.id}">{CONFIRMED[0]} · ' in again
    campaign = session.scalars(select(Campaign).where(Campaign.store_id == store.id)).one()
    assert campaign.status == "draft"
    outbox = client.get("/app/outbox").get_data(as_text=True)
    assert "<td>Kampagnentest</td>" in outbox and "campaign_test" not in outbox
