"""Messaging limits per business portfolio: Meta's business_capability_update sets the limit on
every number of the WABA, and unique recipients count over all of them, not per shop."""

from __future__ import annotations

import datetime as dt

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin.models import NotificationState, Store, WhatsAppAccount
from plugin.whatsapp.accounts import messaging_limit
from plugin.whatsapp.limits import recipients_per_day, tier_room
from tests.factories import make_notification, make_store
from tests.fakes.meta import FakeMeta
from tests.whatsapp.conftest import WABA_ID, load, post_webhook

NOW = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)


def _second_number(session: Session, waba_id: str, phone_number_id: str) -> Store:
    """Another shop whose number belongs to `waba_id`."""
    store = make_store(session)
    session.add(
        WhatsAppAccount(
            store_id=store.id,
            phone_number_id=phone_number_id,
            waba_id=waba_id,
            token="EAAG-other",
            messaging_limit_tier="TIER_250",
        )
    )
    session.commit()
    return store


def _limits(session: Session) -> dict[str, str | None]:
    session.expire_all()
    return {
        a.phone_number_id: a.messaging_limit_tier for a in session.scalars(select(WhatsAppAccount))
    }


def test_the_portfolio_limit_reaches_every_number_of_the_waba_and_no_other(
    session: Session, shop: Store, fake_meta: FakeMeta, client: FlaskClient
) -> None:
    # given two numbers of our WABA and one of another business
    _second_number(session, WABA_ID, "200000000000001")
    _second_number(session, "999999999999999", "300000000000001")
    # when Meta reports the portfolio's new limit in its documented shape
    response = post_webhook(client, load("meta_lifecycle.json", "business_capability_update"))
    assert response.status_code == 200
    # then both numbers of the portfolio have it, the other business keeps its own
    assert _limits(session) == {
        "106540352242922": "2000",
        "200000000000001": "2000",
        "300000000000001": "TIER_250",
    }
    account = session.scalars(
        select(WhatsAppAccount).where(WhatsAppAccount.store_id == shop.id)
    ).one()
    assert messaging_limit(account) == 2000
    # when the portfolio becomes unlimited (-1), no limit holds
    post_webhook(client, load("meta_lifecycle.json", "business_capability_update_unlimited"))
    assert _limits(session)["106540352242922"] == "UNLIMITED"
    session.refresh(account)
    assert messaging_limit(account) is None


def test_recipients_per_day_reads_meta_tiers_and_plain_numbers() -> None:
    assert [
        recipients_per_day(t)
        for t in ("TIER_250", "TIER_2K", "TIER_100K", "2000", "-1", "UNLIMITED", None, "odd")
    ] == [250, 2000, 100_000, 2000, None, None, None, None]


def test_recipients_count_over_the_whole_portfolio_not_the_shop(
    session: Session, shop: Store, fake_meta: FakeMeta
) -> None:
    # given a portfolio limit of 3 shared by our shop and a second shop of the same WABA
    sister = _second_number(session, WABA_ID, "200000000000001")
    stranger = _second_number(session, "999999999999999", "300000000000001")
    for account in session.scalars(select(WhatsAppAccount)):
        account.messaging_limit_tier = "3"
    # the sister shop reached two buyers today, a stranger's shop many, one of ours long ago
    sent = {"state": NotificationState.SENT, "sent_at": NOW - dt.timedelta(hours=2)}
    make_notification(session, sister, "s1", phone="+4915100000001", **sent)
    make_notification(session, sister, "s2", phone="+4915100000002", **sent)
    for n in range(5):
        make_notification(session, stranger, f"x{n}", phone=f"+4915199999{n:03d}", **sent)
    old = {"state": NotificationState.SENT, "sent_at": NOW - dt.timedelta(hours=30)}
    make_notification(session, shop, "o1", phone="+4915100000009", **old)
    session.commit()
    account = session.scalars(
        select(WhatsAppAccount).where(WhatsAppAccount.store_id == shop.id)
    ).one()

    # when our shop's batch asks for room
    room = tier_room(session, account, {"+4915100000001", "+4915100000003"}, [], NOW)

    # then the sister's buyers count: one new buyer fits, a buyer she reached is no new one
    assert (room.limit, room.room, room.reached) == (3, 1, {"+4915100000001"})
    assert room.admits("+4915100000001") is True
    assert room.admits("+4915100000003") is True
    assert room.admits("+4915100000004") is False
