"""Every opt-out path suppresses at once and is an event in the ledger; confirmations too."""

from __future__ import annotations

import datetime as dt

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from plugin.consent import ledger, replies
from plugin.consent.gdpr import erase_buyer
from plugin.db import utcnow
from plugin.models import (
    AuditEntry,
    ConsentEvent,
    ConsentKind,
    Store,
    Subscription,
    SubscriptionState,
)
from plugin.web.auth import issue_login_token
from plugin.whatsapp.channel import SendError
from plugin.whatsapp.errors import apply_send_error
from tests.factories import make_notification, make_store
from tests.owner import csrf_headers

PHONE = "+4915123456789"


def confirmed(session: Session, store: Store, phone: str = PHONE) -> Subscription:
    ledger.record(session, store, phone, ConsentKind.REQUESTED, "widget")
    subscription, _ = ledger.record(session, store, phone, ConsentKind.CONFIRMED, "whatsapp_reply")
    session.commit()
    return subscription


def sources(session: Session, subscription: Subscription) -> list[tuple[str, str]]:
    return [
        (e.kind, e.source)
        for e in session.scalars(
            select(ConsentEvent)
            .where(ConsentEvent.subscription_id == subscription.id)
            .order_by(ConsentEvent.id)
        )
    ]


#: At least one keyword per language the README names, as buyers type them.
KEYWORDS = [
    ("de", "STOPP"),
    ("de", "abmelden"),
    ("de", "Keine Werbung!"),
    ("de", "  Abbestellen. "),
    ("en", "STOP"),
    ("en", "unsubscribe"),
    ("en", "Stop promotions"),
    ("fr", "ARRÊT"),
    ("fr", "arret"),
    ("fr", "Désabonner"),
    ("es", "BAJA"),
    ("es", "darse de baja"),
    ("es", "¡Parar!"),
    ("it", "basta"),
    ("it", "Disiscrivimi 🙏"),
    ("nl", "afmelden"),
    ("nl", "Uitschrijven"),
    ("pl", "WYPISZ"),
    ("pl", "rezygnuję"),
    ("tr", "İptal"),
    ("tr", "dur"),
    ("tr", "abonelikten çık"),  # noqa: RUF001 (Turkish dotless i)
    ("en", "🛑 stop 🛑"),
    ("en", "S.T.O.P"),
]


@pytest.mark.parametrize(("language", "text"), KEYWORDS)
def test_stop_reply_opts_buyer_out_in_every_language(
    session: Session, language: str, text: str
) -> None:
    store = make_store(session)
    subscription = confirmed(session, store)

    outcome = replies.handle_inbound(session, store, phone=PHONE, text=text, message_id="wamid.S")

    assert outcome == replies.ReplyOutcome.OPTED_OUT, (language, text)
    assert subscription.state == SubscriptionState.OPTED_OUT
    assert not ledger.is_sendable(subscription, utcnow())
    assert sources(session, subscription)[-1] == ("opted_out", "whatsapp_reply")


def test_every_language_has_its_keywords() -> None:
    assert set(replies.STOP_KEYWORDS) >= {"de", "en", "fr", "es", "it", "nl", "pl", "tr"}
    for words in replies.STOP_KEYWORDS.values():
        for word in words:
            assert replies.is_stop(word.lower())
            assert replies.normalise(word) == word  # stored normalised


def test_a_longer_message_with_a_keyword_is_flagged_not_guessed(session: Session) -> None:
    store = make_store(session)
    subscription = confirmed(session, store)

    outcome = replies.handle_inbound(
        session, store, phone=PHONE, text="Please don't stop the coffee deals!", message_id="w1"
    )

    assert outcome == replies.ReplyOutcome.FLAGGED
    assert subscription.state == SubscriptionState.CONFIRMED
    entry = session.scalars(select(AuditEntry)).one()
    assert (entry.action, entry.new_value) == ("reply_needs_review", {"message_id": "w1"})


def test_an_ordinary_message_is_ignored(session: Session) -> None:
    store = make_store(session)
    subscription = confirmed(session, store)

    outcome = replies.handle_inbound(session, store, phone=PHONE, text="Where is my order?")

    assert outcome == replies.ReplyOutcome.IGNORED
    assert subscription.state == SubscriptionState.CONFIRMED
    assert session.scalar(select(func.count()).select_from(AuditEntry)) == 0


def test_template_opt_out_button_opts_buyer_out(session: Session) -> None:
    store = make_store(session)
    subscription = confirmed(session, store)

    outcome = replies.handle_inbound(
        session, store, phone=PHONE, button_payload=replies.OPT_OUT_PAYLOAD, message_id="w2"
    )

    assert outcome == replies.ReplyOutcome.OPTED_OUT
    assert subscription.state == SubscriptionState.OPTED_OUT
    assert sources(session, subscription)[-1] == ("opted_out", "template_button")


def test_meta_stop_promotions_preference_opts_buyer_out(session: Session) -> None:
    store = make_store(session)
    subscription = confirmed(session, store)

    ledger.opt_out(session, store, PHONE, source="meta_preferences", detail={"value": "stop"})

    assert subscription.state == SubscriptionState.OPTED_OUT
    assert sources(session, subscription)[-1] == ("opted_out", "meta_preferences")


def test_send_error_131050_opts_buyer_out(session: Session) -> None:
    store = make_store(session)
    subscription = confirmed(session, store)
    notification = make_notification(session, store, "n-131050", phone=PHONE)

    apply_send_error(
        session,
        store,
        notification,
        SendError(131050, "User has stopped marketing messages"),
        utcnow(),
    )

    assert subscription.state == SubscriptionState.OPTED_OUT
    assert sources(session, subscription)[-1] == ("opted_out", "send_error")


def test_unsubscribe_link_get_changes_nothing_and_post_opts_out(
    client: FlaskClient, session: Session
) -> None:
    store = make_store(session, name="Kaffeerösterei Wagner")
    subscription = confirmed(session, store)
    url = f"/u/{subscription.unsubscribe_token}"

    page = client.get(url)
    session.refresh(subscription)
    state_after_get = subscription.state
    done = client.post(url)
    session.refresh(subscription)

    assert page.status_code == 200
    assert "Kaffeerösterei Wagner" in page.text and '<form method="post">' in page.text
    assert state_after_get == SubscriptionState.CONFIRMED  # a prefetcher's GET opts nobody out
    assert done.status_code == 200
    assert "sendet Ihnen keine WhatsApp-Werbung mehr" in done.text
    assert f'href="https://{store.domain}"' in done.text  # the way back
    assert subscription.state == SubscriptionState.OPTED_OUT
    assert sources(session, subscription)[-1] == ("opted_out", "unsubscribe_link")


def test_unknown_unsubscribe_token_is_404(client: FlaskClient, session: Session) -> None:
    make_store(session)
    session.commit()

    assert client.get("/u/not-a-token").status_code == 404
    assert client.post("/u/not-a-token").status_code == 404


def test_shop_owner_opts_a_number_out(client: FlaskClient, session: Session) -> None:
    store = make_store(session)
    subscription = confirmed(session, store)
    token = issue_login_token(session, store)
    session.commit()
    client.get(f"/app/login/{token}")

    response = client.post(
        "/api/v1/admin/subscriptions/0151 23456789/opt-out", headers=csrf_headers(client)
    )

    session.refresh(subscription)
    assert response.status_code == 200
    assert response.json["state"] == "opted_out"
    assert subscription.state == SubscriptionState.OPTED_OUT
    assert sources(session, subscription)[-1] == ("opted_out", "shop_owner")
    audit = session.scalars(select(AuditEntry)).one()
    assert (audit.actor, audit.action) == ("owner", "subscription_opted_out")


def test_gdpr_erasure_suppresses_the_number(session: Session) -> None:
    store = make_store(session)
    subscription = confirmed(session, store)

    erase_buyer(session, store, phone=PHONE, source="gdpr")
    session.commit()

    assert subscription.state == SubscriptionState.OPTED_OUT
    assert not ledger.is_sendable(subscription, utcnow())
    assert [kind for kind, _ in sources(session, subscription)][-1] == "erased"


def test_resubscribing_after_an_opt_out_needs_a_new_confirmation(session: Session) -> None:
    store = make_store(session)
    subscription = confirmed(session, store)
    replies.handle_inbound(session, store, phone=PHONE, text="STOP")

    stale_yes = replies.handle_inbound(session, store, phone=PHONE, text="JA")
    state_after_stale_yes = subscription.state
    ledger.record(session, store, PHONE, ConsentKind.REQUESTED, "widget")
    pending = subscription.state
    fresh_yes = replies.handle_inbound(session, store, phone=PHONE, text="Ja")

    assert stale_yes == replies.ReplyOutcome.IGNORED
    assert state_after_stale_yes == SubscriptionState.OPTED_OUT
    assert pending == SubscriptionState.PENDING
    assert fresh_yes == replies.ReplyOutcome.CONFIRMED
    assert subscription.state == SubscriptionState.CONFIRMED


@pytest.mark.parametrize("word", ["JA", "yes", "Oui", "SÍ", "si", "Sì!", "tak", "evet", "Ja 👍"])
def test_yes_confirms_a_pending_optin(session: Session, word: str) -> None:
    store = make_store(session)
    subscription, _ = ledger.record(session, store, PHONE, ConsentKind.REQUESTED, "widget")

    outcome = replies.handle_inbound(session, store, phone=PHONE, text=word, message_id="wamid.Y")

    assert outcome == replies.ReplyOutcome.CONFIRMED
    assert subscription.state == SubscriptionState.CONFIRMED
    last = session.scalars(select(ConsentEvent).order_by(ConsentEvent.id.desc())).first()
    assert last is not None and (last.kind, last.message_id) == ("confirmed", "wamid.Y")


def test_the_link_code_confirms_once(session: Session) -> None:
    store = make_store(session, name="Wagner")
    subscription, _ = ledger.record(session, store, PHONE, ConsentKind.REQUESTED, "widget")
    subscription.confirmation_code = "K7Q2MX"
    prefilled = "Ja, ich möchte WhatsApp-Nachrichten von Wagner erhalten. Code: K7Q2MX"

    wrong = replies.handle_inbound(session, store, phone=PHONE, text=prefilled.replace("K7", "X7"))
    right = replies.handle_inbound(session, store, phone=PHONE, text=prefilled)

    assert wrong == replies.ReplyOutcome.IGNORED
    assert right == replies.ReplyOutcome.CONFIRMED
    assert subscription.confirmation_code is None  # spent


def test_an_opt_out_works_whatever_the_state_even_unknown_numbers(session: Session) -> None:
    store = make_store(session)

    outcome = replies.handle_inbound(session, store, phone=PHONE, text="stop")

    subscription = ledger.find_subscription(session, store.id, PHONE)
    assert outcome == replies.ReplyOutcome.OPTED_OUT
    assert subscription is not None and subscription.state == SubscriptionState.OPTED_OUT
    # a later YES without a new opt-in request confirms nothing
    replies.handle_inbound(session, store, phone=PHONE, text="yes", at=utcnow() + dt.timedelta(1))
    assert subscription.state == SubscriptionState.OPTED_OUT
