"""Meta's account_update MM_LITE_TERMS_SIGNED: the business accepted the Marketing Messages
API's terms, and marketing takes that route from the next send.

The entry's id is the business portfolio; the WABA is named in `waba_info`.
https://developers.facebook.com/documentation/business-messaging/whatsapp/marketing-messages/onboarding
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin.models import AuditEntry, Store, WhatsAppAccount
from plugin.whatsapp import routing
from plugin.whatsapp.channel import TemplateMessage
from plugin.whatsapp.client import CloudChannel
from tests.fakes.meta import FakeMeta
from tests.whatsapp.conftest import WABA_ID, post_webhook

PORTFOLIO_ID = "506914307656634"


def terms_signed(waba_id: str) -> dict[str, Any]:
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": PORTFOLIO_ID,
                "time": 1733309000,
                "changes": [
                    {
                        "field": "account_update",
                        "value": {
                            "event": "MM_LITE_TERMS_SIGNED",
                            "waba_info": {"owner_business_id": PORTFOLIO_ID, "waba_id": waba_id},
                        },
                    }
                ],
            }
        ],
    }


def _account(session: Session) -> WhatsAppAccount:
    session.expire_all()
    return session.scalars(select(WhatsAppAccount)).one()


def test_signed_terms_onboard_the_account_and_marketing_takes_the_api(
    app: Flask, client: FlaskClient, session: Session, shop: Store, fake_meta: FakeMeta
) -> None:
    # given an account found not onboarded a moment ago: marketing goes through /messages
    account = _account(session)
    account.marketing_messages = routing.NOT_ONBOARDED
    account.marketing_messages_checked_at = dt.datetime.now(dt.UTC)
    session.commit()

    assert post_webhook(client, terms_signed(WABA_ID)).get_json()["stored"] == 1

    account = _account(session)
    assert account.marketing_messages == routing.ONBOARDED
    assert routing.warning(account) is None
    message = TemplateMessage(
        to="+4915112345678",
        template="shopnudge_cart_reminder_1",
        language="de",
        category="MARKETING",
    )
    CloudChannel(account, app.config["SHOPNUDGE"]).send_template(message)
    assert [r.path.rsplit("/", 1)[-1] for r in fake_meta.sends()] == ["marketing_messages"]
    assert [a.field for a in session.scalars(select(AuditEntry))] == ["mm_lite_terms_signed"]


def test_signed_terms_of_another_waba_change_nothing(
    client: FlaskClient, session: Session, shop: Store
) -> None:
    assert post_webhook(client, terms_signed("999999999999999")).get_json()["stored"] == 0
    assert _account(session).marketing_messages == routing.UNKNOWN
