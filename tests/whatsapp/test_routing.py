"""Template messages go to the endpoint their template's latest category calls for.

MARKETING → POST /<PHONE_NUMBER_ID>/marketing_messages unless the account is known not to be
onboarded to the Marketing Messages API; everything else → /messages. The fake Graph API checks
each body against Meta's schema for its endpoint, delivers the marketing of a business not
onboarded through Cloud API (Meta's CLOUD_API_FALLBACK), and answers the WABA's
`marketing_messages_onboarding_status`.
"""

from __future__ import annotations

import datetime as dt

import pytest
from flask import Flask
from flask.testing import FlaskClient
from markupsafe import escape
from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin.db import get_database, utcnow
from plugin.engine.dispatch import message_for
from plugin.models import NotificationState, Store, WhatsAppAccount, WhatsAppTemplate
from plugin.whatsapp import routing
from plugin.whatsapp.accounts import refresh_account
from plugin.whatsapp.channel import SendError, TemplateMessage
from plugin.whatsapp.client import channel_for
from tests.factories import make_notification, make_template
from tests.fakes.meta import EMPTY_TEXT_DETAILS, FakeMeta
from tests.owner import sign_in
from tests.whatsapp.conftest import PHONE_NUMBER_ID, WABA_ID, post_webhook

BUYER = "+4915112345678"
BODY = [{"type": "text", "text": "Erika"}]
#: The hint as the page shows it ("Meta's", "Overview > Alerts" escaped).
ONBOARDING_HTML = str(escape(routing.ONBOARDING_HINT))


def _account(session: Session, store: Store) -> WhatsAppAccount:
    return session.scalars(
        select(WhatsAppAccount).where(WhatsAppAccount.store_id == store.id)
    ).one()


def _message(category: str | None, callback: str | None = "7") -> TemplateMessage:
    return TemplateMessage(
        to=BUYER,
        template="shopnudge_cart_reminder_1",
        language="de",
        components={"body": BODY},
        callback_data=callback,
        category=category,
    )


def _send(app: Flask, session: Session, shop: Store, message: TemplateMessage) -> str:
    channel = channel_for(_account(session, shop), app.config["SHOPNUDGE"], get_database(app))
    return channel.send_template(message)


def test_a_marketing_template_goes_to_marketing_messages_with_our_row_id(
    app: Flask, session: Session, shop: Store, fake_meta: FakeMeta
) -> None:
    wamid = _send(app, session, shop, _message("MARKETING"))

    [sent] = fake_meta.sends()
    assert sent.path == f"/v23.0/{PHONE_NUMBER_ID}/marketing_messages"
    assert sent.json["to"] == BUYER.removeprefix("+")
    assert sent.json["biz_opaque_callback_data"] == "7"  # statuses name our row, as on /messages
    assert sent.json["product_policy"] == "CLOUD_API_FALLBACK"
    assert wamid.startswith("wamid.")
    assert fake_meta.refused == []
    session.expire_all()  # an accepted send proves nothing: Meta may have fallen back
    assert _account(session, shop).marketing_messages == routing.UNKNOWN


def test_a_utility_template_goes_to_messages_with_callback_data(
    app: Flask, session: Session, shop: Store, fake_meta: FakeMeta
) -> None:
    _send(app, session, shop, _message("UTILITY"))

    [sent] = fake_meta.sends()
    assert sent.path == f"/v23.0/{PHONE_NUMBER_ID}/messages"
    assert sent.json["biz_opaque_callback_data"] == "7"
    assert "product_policy" not in sent.json
    assert fake_meta.marketing_sends() == []


def test_marketing_of_a_business_not_onboarded_is_delivered_once_through_meta_fallback(
    app: Flask, session: Session, shop: Store, fake_meta: FakeMeta
) -> None:
    fake_meta.marketing_onboarded = set()  # the business never accepted the API's terms

    wamid = _send(app, session, shop, _message("MARKETING"))

    [sent] = fake_meta.sends()
    assert sent.path.endswith("/marketing_messages")
    assert fake_meta.fell_back == [wamid]


def test_meta_134102_sends_the_same_message_once_through_messages_and_remembers_it(
    app: Flask, session: Session, shop: Store, fake_meta: FakeMeta
) -> None:
    fake_meta.fail_next_send(134102)  # "Template unavailable for use", HTTP 500

    wamid = _send(app, session, shop, _message("MARKETING"))

    first, second = fake_meta.sends()
    assert first.path.endswith("/marketing_messages")
    assert second.path == f"/v23.0/{PHONE_NUMBER_ID}/messages"
    assert second.json["template"] == first.json["template"]
    assert second.json["biz_opaque_callback_data"] == "7"
    assert wamid.startswith("wamid.")
    session.expire_all()
    account = _account(session, shop)
    assert account.marketing_messages == routing.NOT_ONBOARDED
    assert account.marketing_messages_checked_at is not None
    assert routing.warning(account) == routing.ONBOARDING_HINT

    # the next marketing send from a fresh channel goes straight to /messages
    _send(app, session, shop, _message("MARKETING"))
    assert [r.path.rsplit("/", 1)[1] for r in fake_meta.sends()] == [
        "marketing_messages",
        "messages",
        "messages",
    ]


def test_a_day_after_134102_marketing_tries_the_api_again(
    app: Flask, session: Session, shop: Store, fake_meta: FakeMeta
) -> None:
    account = _account(session, shop)
    account.marketing_messages = routing.NOT_ONBOARDED
    account.marketing_messages_checked_at = utcnow() - routing.RECHECK - dt.timedelta(minutes=1)
    session.commit()

    _send(app, session, shop, _message("MARKETING"))

    [sent] = fake_meta.sends()
    assert sent.path.endswith("/marketing_messages")


def test_another_marketing_refusal_is_not_retried_on_messages(
    app: Flask, session: Session, shop: Store, fake_meta: FakeMeta
) -> None:
    fake_meta.fail_next_send(131050)  # the buyer stopped marketing: not an onboarding question

    with pytest.raises(SendError) as refused:
        _send(app, session, shop, _message("MARKETING"))
    assert refused.value.code == 131050
    assert len(fake_meta.sends()) == 1
    session.expire_all()
    assert _account(session, shop).marketing_messages == routing.UNKNOWN


def test_a_lost_answer_from_marketing_messages_is_never_resent(
    app: Flask, session: Session, shop: Store, fake_meta: FakeMeta
) -> None:
    fake_meta.fail_next_send(0, 502)  # a proxy's bare 502: Meta may have accepted it

    with pytest.raises(SendError) as failed:
        _send(app, session, shop, _message("MARKETING"))
    assert failed.value.code == 502
    assert len(fake_meta.sends()) == 1


def test_the_account_refresh_reads_the_waba_onboarding_status(
    app: Flask, session: Session, shop: Store, fake_meta: FakeMeta
) -> None:
    account = _account(session, shop)
    settings = app.config["SHOPNUDGE"]
    now = utcnow()

    fake_meta.waba_onboarding[WABA_ID] = "ELIGIBLE"  # eligible, terms not accepted yet
    refresh_account(session, account, settings, now)
    assert (account.marketing_messages, account.marketing_messages_checked_at) == (
        routing.NOT_ONBOARDED,
        now,
    )
    assert routing.warning(account) == routing.ONBOARDING_HINT

    fake_meta.waba_onboarding[WABA_ID] = "ONBOARDED"
    refresh_account(session, account, settings, now)
    assert account.marketing_messages == routing.ONBOARDED
    assert routing.warning(account) is None

    del fake_meta.waba_onboarding[WABA_ID]  # an unreadable field changes nothing
    refresh_account(session, account, settings, now)
    assert account.marketing_messages == routing.ONBOARDED
    assert fake_meta.requests[-1].args == {"fields": "marketing_messages_onboarding_status"}


def _category_webhook(value: dict[str, object]) -> dict[str, object]:
    """Meta's documented template_category_update shape (webhooks reference)."""
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": WABA_ID,
                "time": 1764860000,
                "changes": [{"field": "template_category_update", "value": value}],
            }
        ],
    }


def test_a_completed_category_update_reroutes_the_next_send_an_impending_one_does_not(
    app: Flask, session: Session, client: FlaskClient, shop: Store, fake_meta: FakeMeta
) -> None:
    template = make_template(
        session, shop, "cart_reminder_1", category="UTILITY", meta_template_id="787878"
    )
    row = make_notification(
        session,
        shop,
        "reroute",
        template_name=template.name,
        parameters={"body": BODY},
        state=NotificationState.SENDING,
    )
    session.commit()
    base = {
        "message_template_id": 787878,
        "message_template_name": template.name,
        "message_template_language": "de",
    }

    # an impending change is kept to show the owner, and routes nothing
    impending = {
        **base,
        "correct_category": "MARKETING",
        "new_category": "UTILITY",
        "category_update_timestamp": 1765464800,
    }
    assert post_webhook(client, _category_webhook(impending)).status_code == 200
    session.expire_all()
    template = session.get(WhatsAppTemplate, template.id)
    assert template is not None
    assert (template.category, template.pending_category) == ("UTILITY", "MARKETING")
    assert template.pending_category_at == dt.datetime(2025, 12, 11, 14, 53, 20, tzinfo=dt.UTC)
    _send(app, session, shop, message_for(row, utcnow(), template.category))
    assert fake_meta.sends()[-1].path.endswith(f"/{PHONE_NUMBER_ID}/messages")

    # the completed change re-routes the next send
    completed = {**base, "previous_category": "UTILITY", "new_category": "MARKETING"}
    assert post_webhook(client, _category_webhook(completed)).status_code == 200
    session.expire_all()
    template = session.get(WhatsAppTemplate, template.id)
    assert template is not None
    assert (template.category, template.pending_category) == ("MARKETING", None)
    _send(app, session, shop, message_for(row, utcnow(), template.category))
    assert fake_meta.sends()[-1].path.endswith(f"/{PHONE_NUMBER_ID}/marketing_messages")
    assert len(fake_meta.sends()) == 2
    assert fake_meta.refused == []


def test_the_fake_refuses_an_empty_text_parameter_as_meta_does(
    app: Flask, session: Session, shop: Store, fake_meta: FakeMeta
) -> None:
    message = TemplateMessage(
        to=BUYER,
        template="shopnudge_cart_reminder_1",
        language="de",
        components={"body": [{"type": "text", "text": ""}]},
        category="UTILITY",
    )
    with pytest.raises(SendError) as refused:
        _send(app, session, shop, message)
    assert (refused.value.code, refused.value.details) == (100, EMPTY_TEXT_DETAILS)
    assert fake_meta.refused == [(f"/v23.0/{PHONE_NUMBER_ID}/messages", EMPTY_TEXT_DETAILS)]


def test_the_owner_sees_the_onboarding_warning_and_an_impending_category(
    session: Session, client: FlaskClient, shop: Store
) -> None:
    account = _account(session, shop)
    account.marketing_messages = routing.NOT_ONBOARDED
    template = make_template(session, shop, "recommendation", category="MARKETING")
    template.pending_category = "UTILITY"
    template.pending_category_at = dt.datetime(2026, 12, 11, tzinfo=dt.UTC)
    session.commit()
    sign_in(client, session, shop)

    dashboard = client.get("/app/").get_data(as_text=True)
    settings = client.get("/app/settings").get_data(as_text=True)

    warning = f'<p class="banner warn" data-metric="marketing_messages">{ONBOARDING_HTML}</p>'
    assert warning in dashboard
    assert (
        '<small data-pending-category="UTILITY">MARKETING → UTILITY 2026-12-11</small>' in settings
    )
